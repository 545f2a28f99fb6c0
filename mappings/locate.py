"""Line numbers for keys of a TOML file, which ``tomllib`` does not give.

``SourceMap.from_text`` scans the text once: table headers (``[territories.emea]``), arrays of
tables (``[[pins]]``, numbered from 0 in order) and ``key = value`` lines within them, skipping
the inside of multi-line strings and arrays. ``line_of(path)`` answers the line of the most
specific known prefix of a key path, so a problem deep inside a value still points at its key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

KeyPath = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"' + r"|'[^']*'"
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_PART = re.compile(rf"{_BARE}|{_QUOTED}")


def split_key(dotted: str) -> tuple[str, ...]:
    """``territories."north-east".name`` → ``("territories", "north-east", "name")``."""
    parts = []
    for match in _PART.finditer(dotted):
        token = match.group(0)
        parts.append(token[1:-1] if token[0] in "\"'" else token)
    return tuple(parts)


@dataclass
class SourceMap:
    """Where each table and key of one TOML text starts (1-based lines)."""

    lines: dict[KeyPath, int] = field(default_factory=dict)
    # Keys whose value is a multi-line string opening with a newline: its text starts one line later.
    multiline: set[KeyPath] = field(default_factory=set)

    @classmethod
    def from_text(cls, text: str) -> SourceMap:
        smap = cls()
        table: KeyPath = ()
        counters: dict[tuple[str, ...], int] = {}
        closer: str | None = None  # inside a multi-line string: the delimiter that ends it
        depth = 0  # open brackets of a multi-line array or inline table
        for number, line in enumerate(text.splitlines(), start=1):
            if closer is not None:
                if closer in line:
                    closer = None
                continue
            if depth > 0:
                depth = max(0, depth + _bracket_balance(line))
                continue
            header = _HEADER.match(line)
            if header:
                names = split_key(header.group(2))
                if header.group(1) == "[[":
                    index = counters.get(names, 0)
                    counters[names] = index + 1
                    table = (*names, index)
                else:
                    table = _resolve(names, counters)
                smap.lines.setdefault(table, number)
                continue
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            key = (*table, *split_key(assign.group(1)))
            smap.lines.setdefault(key, number)
            value = assign.group(2)
            for delim in ('"""', "'''"):
                if value.startswith(delim):
                    if value.count(delim) == 1:
                        closer = delim
                        if value.rstrip() == delim:
                            smap.multiline.add(key)
                    break
            else:
                depth = max(0, _bracket_balance(value))
        return smap

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its longest prefix that has one; None if none has."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def value_line(self, path: Sequence[str | int], line_in_value: int) -> int | None:
        """The file line of line ``line_in_value`` (1-based) of a string value at ``path``."""
        start = self.lines.get(tuple(path))
        if start is None:
            return self.line_of(path)
        offset = 1 if tuple(path) in self.multiline else 0
        return start + offset + line_in_value - 1


def _resolve(names: tuple[str, ...], counters: dict[tuple[str, ...], int]) -> KeyPath:
    """A ``[pins.extra]`` header under ``[[pins]]`` belongs to the latest ``pins`` element."""
    for cut in range(len(names), 0, -1):
        prefix = names[:cut]
        if prefix in counters:
            return (*prefix, counters[prefix] - 1, *names[cut:])
    return names


def _bracket_balance(text: str) -> int:
    """Open minus closed brackets outside strings and comments, for multi-line arrays."""
    balance = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance
