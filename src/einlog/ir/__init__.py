"""einlog.ir (see docs/architecture.md)."""
