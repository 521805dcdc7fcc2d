"""einlog.front (see docs/architecture.md)."""
