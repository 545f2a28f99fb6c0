"""The readable criteria language: ``parse`` text into a criteria tree, ``to_text`` back.

::

    Industry in ["Retail", "Consumer Goods"] and Annual_Revenue >= 1_000_000
        and Billing_Code starts with "94"

Grammar (keywords are case-insensitive; ``not`` binds tightest, then ``and``, then ``or``)::

    criteria   := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" criteria ")" | condition
    condition  := FIELD op value                      op: == != < <= > >= contains, not contains,
                                                          starts with, ends with
                | FIELD ["not"] "in" list
                | FIELD ["not"] "between" value "and" value | FIELD ["not"] "between" "[" value "," value "]"
                | FIELD "is" ["not"] "empty"
    list       := "[" [value ("," value)*] "]" | @named_list
    value      := "text" | 'text' | 1_000_000 | -12.5 | true | false | 2026-01-31
                | 2026-01-31T09:00:00+01:00 (a zone is required)

``FIELD`` is an API name, dotted for a lookup's sub-field (``Owner.email``, ``Account_Name.id``);
``Account_Name`` alone is the lookup's name. Named lists (``@uk_postcodes``) are resolved from the
``lists`` mapping given to ``parse``; the condition remembers the name (``value_source``).

A chain of the same operator is one group (``a and b and c``); parentheses always make their own
group, so ``parse(to_text(c)) == c`` for every tree whose groups have at least two children.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from mappings.criteria.ast import Comparator, Condition, Criteria, Group, Not, Scalar, Value
from mappings.criteria.values import SPELLING
from mappings.errors import CriteriaError, CriteriaSyntaxError

log = logging.getLogger(__name__)

# An API name, dotted for a lookup's sub-field; ``$`` starts Zoho's system fields (``$converted``).
# Parse-tree levels a criteria text may nest (each parenthesis or `not` is one): far past what a
# person writes, well short of Python's recursion limit in the passes that walk the tree.
MAX_NESTING = 64
_FIELD_PATTERN = r"\$?[A-Za-z_][A-Za-z0-9_]*(\.\$?[A-Za-z_][A-Za-z0-9_]*)*"

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: NOT not_expr -> negation
         | _LPAR or_expr _RPAR -> paren
         | condition
condition: FIELD OP value                         -> binary
         | FIELD NOT? _IN list                 -> membership
         | FIELD NOT? _BETWEEN value _AND value -> between
         | FIELD NOT? _BETWEEN _LSQB value _COMMA value _RSQB -> between
         | FIELD _IS NOT? _EMPTY               -> emptiness
         | FIELD NOT? TEXT_OP value            -> textual
         | FIELD NOT? STARTS _WITH value       -> textual
         | FIELD NOT? ENDS _WITH value         -> textual
list: _LSQB [value (_COMMA value)*] _RSQB -> literal_list
    | NAMED_LIST                         -> named_list
value: STRING | NUMBER | TRUE | FALSE | DATE | DATETIME

OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
_OR: "or"i
_AND: "and"i
NOT: "not"i
_IN: "in"i
_BETWEEN: "between"i
_IS: "is"i
_EMPTY: "empty"i
TEXT_OP: "contains"i
STARTS: "starts"i
ENDS: "ends"i
_WITH: "with"i
TRUE.2: "true"i
FALSE.2: "false"i
_LPAR: "("
_RPAR: ")"
_LSQB: "["
_RSQB: "]"
_COMMA: ","
FIELD: /FIELD_PATTERN/
NAMED_LIST: /@[A-Za-z_][A-Za-z0-9_.-]*/
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?/
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.2: /-?\d[\d_]*(\.\d+)?/
STRING: /"(\\.|[^"\\\n])*"/ | /'(\\.|[^'\\\n])*'/

%import common.WS
%ignore WS
"""

# What each terminal is called in an error message.
_NAMES = {
    "FIELD": "a field name",
    "OP": "a comparison (==, !=, <, <=, >, >=)",
    "STRING": "a value",
    "NUMBER": "a value",
    "TRUE": "a value",
    "FALSE": "a value",
    "DATE": "a value",
    "DATETIME": "a value",
    "NAMED_LIST": "a named list (@name)",
    "_LSQB": "`[`",
    "_RSQB": "`]`",
    "_LPAR": "`(`",
    "_RPAR": "`)`",
    "_COMMA": "`,`",
    "_OR": "`or`",
    "_AND": "`and`",
    "NOT": "`not`",
    "_IN": "`in`",
    "_BETWEEN": "`between`",
    "_IS": "`is`",
    "_EMPTY": "`empty`",
    "TEXT_OP": "`contains`",
    "STARTS": "`starts with`",
    "ENDS": "`ends with`",
    "_WITH": "`with`",
    "$END": "the end of the criteria",
}

_BINARY: Mapping[str, Comparator] = {
    "==": "equal",
    "!=": "not_equal",
    "<": "less_than",
    "<=": "less_equal",
    ">": "greater_than",
    ">=": "greater_equal",
}
_TEXTUAL: Mapping[str, tuple[Comparator, Comparator | None]] = {
    "contains": ("contains", "not_contains"),
    "starts": ("starts_with", None),
    "ends": ("ends_with", None),
}


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.replace("FIELD_PATTERN", _FIELD_PATTERN),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse(text: str, *, lists: Mapping[str, Sequence[Scalar]] | None = None) -> Criteria:
    """Parse criteria text; ``lists`` resolves named lists (``@uk_postcodes`` → ``lists["uk_postcodes"]``).

    Raises ``CriteriaSyntaxError`` (line, column, caret snippet, what was expected) for text that
    does not parse, and for an unknown named list.
    """
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    if _depth(tree) > MAX_NESTING:
        raise CriteriaError(
            f"the criteria are nested more than {MAX_NESTING} levels deep (parentheses and `not`): "
            "write them flatter, e.g. with `in [...]` or one `and`/`or` chain"
        )
    try:
        result: Criteria = _Build(text, lists or {}).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, CriteriaError):
            raise exc.orig_exc from None
        raise
    return result


def _depth(tree: Tree[Token]) -> int:
    """How deep the parse tree goes, counted without recursion (the text may nest thousands deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _syntax_error(exc: UnexpectedInput, text: str) -> CriteriaSyntaxError:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        allowed = _expected(getattr(exc, "allowed", None) or set())
        if char in "'\"":
            message = f"unterminated text starting at line {line}, column {column}: close it with {char}"
        else:
            hint = ' (text needs quotes: "Retail")' if char.isalpha() else ""
            message = f"unexpected `{char}` at line {line}, column {column}; expected {allowed}{hint}"
    else:
        expected = _expected(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set())
        if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            got = "the end of the text"
        else:
            assert isinstance(exc, UnexpectedToken)
            got = f"`{exc.token}`"
        after = ""
        previous = _previous_token(exc)
        if previous is not None:
            after = f" after `{previous}`"
        message = f"expected {expected}{after}, got {got} at line {line}, column {column}"
    return CriteriaSyntaxError(message, line=line, column=column, text=text)


def _previous_token(exc: UnexpectedInput) -> str | None:
    history = getattr(exc, "token_history", None)
    if history:
        return str(history[-1])
    return None


def _expected(names: Any) -> str:
    words = sorted(dict.fromkeys(_NAMES.get(str(n), str(n)) for n in names))
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


@v_args(inline=True)
class _Build(Transformer[Token, Criteria]):
    def __init__(self, text: str, lists: Mapping[str, Sequence[Scalar]]) -> None:
        super().__init__()
        self._text = text
        self._lists = lists

    def or_expr(self, *children: Criteria) -> Criteria:
        return Group("or", tuple(children))

    def and_expr(self, *children: Criteria) -> Criteria:
        return Group("and", tuple(children))

    def negation(self, _not: Token, child: Criteria) -> Criteria:
        return Not(child)

    def paren(self, child: Criteria) -> Criteria:
        return child

    def value(self, token: Token) -> Scalar:
        return _scalar(token, self._text)

    def literal_list(self, *values: Scalar) -> tuple[tuple[Scalar, ...], str | None]:
        return tuple(values), None

    def named_list(self, token: Token) -> tuple[tuple[Scalar, ...], str | None]:
        name = str(token)[1:]
        if name not in self._lists:
            known = ", ".join(f"@{n}" for n in sorted(self._lists)) or "none were given"
            raise CriteriaSyntaxError(
                f"unknown named list `@{name}` at line {token.line}, column {token.column} (known: {known})",
                line=token.line or 1,
                column=token.column or 1,
                text=self._text,
            )
        return tuple(self._lists[name]), f"@{name}"

    def binary(self, field: Token, op: Token, value: Scalar) -> Condition:
        return Condition(str(field), _BINARY[str(op)], value)

    def membership(self, field: Token, *rest: Any) -> Condition:
        negated = len(rest) == 2
        values, source = rest[-1]
        return Condition(str(field), "not_in" if negated else "in", values, value_source=source)

    def between(self, field: Token, *rest: Any) -> Condition:
        negated = len(rest) == 3
        low, high = rest[-2:]
        return Condition(str(field), "not_between" if negated else "between", (low, high))

    def emptiness(self, field: Token, *rest: Token) -> Condition:
        return Condition(str(field), "is_not_empty" if rest else "is_empty", None)

    def textual(self, field: Token, *rest: Any) -> Condition:
        negated = len(rest) == 3
        op, value = rest[-2], rest[-1]
        positive, negative = _TEXTUAL[str(op).lower()]
        if negated:
            if negative is None:
                raise CriteriaSyntaxError(
                    f"`not {str(op).lower()} with` is not a comparator at line {field.line}, column "
                    f"{field.column} (Zoho has none): write `not ({field} {str(op).lower()} with …)`",
                    line=field.line or 1,
                    column=field.column or 1,
                    text=self._text,
                )
            return Condition(str(field), negative, value)
        return Condition(str(field), positive, value)


def _scalar(token: Token, text: str) -> Scalar:
    raw = str(token)
    kind = token.type
    if kind == "STRING":
        return _unquote(raw)
    if kind == "TRUE":
        return True
    if kind == "FALSE":
        return False
    if kind == "NUMBER":
        digits = raw.replace("_", "")
        if "__" in raw or raw.endswith("_") or "_." in raw:
            raise CriteriaSyntaxError(
                f"badly placed `_` in number `{raw}` at line {token.line}, column {token.column}",
                line=token.line or 1,
                column=token.column or 1,
                text=text,
            )
        return Decimal(digits) if "." in digits else int(digits)
    try:
        if kind == "DATE":
            return date.fromisoformat(raw)
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise CriteriaSyntaxError(
            f"`{raw}` is not a valid {'date' if kind == 'DATE' else 'date-time'} ({exc}) at line "
            f"{token.line}, column {token.column}",
            line=token.line or 1,
            column=token.column or 1,
            text=text,
        ) from None
    if value.tzinfo is None:
        raise CriteriaSyntaxError(
            f"date-time `{raw}` has no time zone at line {token.line}, column {token.column}: "
            "add Z or an offset such as +01:00",
            line=token.line or 1,
            column=token.column or 1,
            text=text,
        )
    return value


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- to_text ------------------------------------------------------------------------------------

_SYMBOL = SPELLING


def to_text(criteria: Criteria) -> str:
    """The criteria as readable text; ``parse(to_text(c)) == c`` (named lists print as ``@name``)."""
    if isinstance(criteria, Condition):
        return condition_text(criteria)
    if isinstance(criteria, Not):
        return f"not {_nested(criteria.child)}"
    if len(criteria.children) == 1:
        # One child has no text form of its own; the group's single member stands for it.
        return to_text(criteria.children[0])
    return f" {criteria.operator} ".join(_nested(c) for c in criteria.children)


def _nested(criteria: Criteria) -> str:
    text = to_text(criteria)
    return f"({text})" if isinstance(criteria, Group) and len(criteria.children) > 1 else text


_FIELD = re.compile(_FIELD_PATTERN)


def condition_text(c: Condition) -> str:
    """One condition as text: ``Industry in ["Retail"]``.

    Raises ``CriteriaError`` for a field name the language cannot spell (so no unparsable text is written).
    """
    if not _FIELD.fullmatch(c.field) or c.field.lower() == "not":
        raise CriteriaError(
            f"the field name {c.field!r} cannot be written in the criteria language "
            "(API names are letters, digits and _, dotted for lookups)",
            field=c.field,
        )
    if c.comparator == "is_empty":
        return f"{c.field} is empty"
    if c.comparator == "is_not_empty":
        return f"{c.field} is not empty"
    if c.comparator in ("in", "not_in"):
        keyword = "in" if c.comparator == "in" else "not in"
        if c.value_source is not None:
            return f"{c.field} {keyword} {c.value_source}"
        return f"{c.field} {keyword} {value_text(c.value)}"
    if c.comparator in ("between", "not_between"):
        keyword = "between" if c.comparator == "between" else "not between"
        if isinstance(c.value, tuple) and len(c.value) == 2:
            return f"{c.field} {keyword} {scalar_text(c.value[0])} and {scalar_text(c.value[1])}"
        return f"{c.field} {keyword} {value_text(c.value)}"
    return f"{c.field} {_SYMBOL[c.comparator]} {value_text(c.value)}"


def value_text(value: Value) -> str:
    """A literal or a list of literals as the language writes it."""
    if isinstance(value, tuple):
        return "[" + ", ".join(scalar_text(v) for v in value) + "]"
    if value is None:
        return "empty"
    return scalar_text(value)


def scalar_text(value: Scalar) -> str:
    """One literal as the language writes it: ``"Retail"``, ``1_000_000``, ``2026-01-31``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if text not in ("NaN", "Infinity", "-Infinity") else f'"{text}"'
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
