"""Problems found in a territory plan, and the error that carries all of them at once.

    PlanError                      (mappings/errors.py: root of every plan error)
     └── PlanValidationError       the plan file has problems; ``.problems`` lists every one

A ``Problem`` says what is wrong, where (file, line, key) and what to do (``hint``). Loading a
plan collects every problem before raising, so a person fixes the whole file in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mappings.errors import PlanError


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    key: str
    message: str
    hint: str = ""

    def render(self) -> str:
        """``plan.toml:23: territories.emea.parent: unknown parent "emeaa" — … Use …``"""
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        if not self.hint:
            return text
        return f"{text} {self.hint}" if text.endswith(("?", ".", "!")) else f"{text}. {self.hint}"


class PlanValidationError(PlanError):
    """A plan file has one or more problems; ``problems`` holds all of them, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the territory plan"
        super().__init__("\n".join([head, *(p.render() for p in self.problems)]))
