"""The `cocreate` command: one module per group of verbs, all on cli.core (see cli.main)."""

from .main import main

__all__ = ["main"]
