"""einlog.learn (see docs/architecture.md)."""
