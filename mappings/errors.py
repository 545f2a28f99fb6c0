"""The territory plan's one error tree: everything ``mappings/`` raises is a ``PlanError``.

::

    PlanError                      the plan (file, criteria, hierarchy, targets) cannot be used as written
    └── CriteriaError              a criteria expression is wrong: fix the expression (``.field`` names the field)
        └── CriteriaSyntaxError    the text does not parse: ``.line``, ``.column``, ``.text`` and a caret snippet

Every message says what is wrong, where, and what to do. Nothing in ``mappings/`` does I/O, so
there are no retriable errors here: fixing the plan is always the remedy.
"""

from __future__ import annotations


class PlanError(Exception):
    """Root of every error the territory plan model raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CriteriaError(PlanError):
    """A criteria expression is invalid: unknown field, wrong type, or a form Zoho cannot express."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CriteriaSyntaxError(CriteriaError):
    """The criteria text does not parse; ``line``/``column`` are 1-based, ``text`` is the whole input."""

    def __init__(self, message: str, *, line: int, column: int, text: str) -> None:
        super().__init__(f"{message}\n{caret_snippet(text, line, column)}")
        self.reason = message
        self.line = line
        self.column = column
        self.text = text


def caret_snippet(text: str, line: int, column: int) -> str:
    """The offending line of ``text`` with a ``^`` under ``column`` (both 1-based)."""
    lines = text.splitlines() or [""]
    source = lines[min(max(line, 1), len(lines)) - 1]
    return f"  {source}\n  {' ' * max(column - 1, 0)}^"
