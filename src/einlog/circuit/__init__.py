"""einlog.circuit (see docs/architecture.md)."""
