"""The nexint version (one place, read by the package and by session headers)."""

__version__ = "0.1.0"
