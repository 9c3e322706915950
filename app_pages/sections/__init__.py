"""Sections of a page that are long enough to live in their own module; each has ``render(t, settings)``."""
