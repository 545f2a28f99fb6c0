"""The ``territory-sync`` command (console script ``jobs.cli:main``; ``python -m jobs.cli``)."""

from __future__ import annotations

from jobs.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
