"""einlog.semirings (see docs/architecture.md)."""
