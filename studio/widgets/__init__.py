"""The studio's widgets, one per file (docs/design.md)."""
