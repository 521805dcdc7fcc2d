"""einlog.cli (see docs/architecture.md)."""
