"""The package version: its one home (pyproject.toml reads it from here, via hatch)."""

__version__ = "0.1.0"
