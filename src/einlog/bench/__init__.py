"""einlog.bench (see docs/architecture.md)."""
