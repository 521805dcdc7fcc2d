"""einlog.neural (see docs/architecture.md)."""
