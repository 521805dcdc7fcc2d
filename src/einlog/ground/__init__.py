"""einlog.ground (see docs/architecture.md)."""
