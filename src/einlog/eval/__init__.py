"""einlog.eval (see docs/architecture.md)."""
