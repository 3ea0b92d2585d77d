"""The studio's widgets, one per file (DESIGN.md)."""
