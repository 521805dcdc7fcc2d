"""einlog.syntax (see docs/architecture.md)."""
