"""The readable criteria language: what parses to what, the errors people see, and to_text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings

from mappings.criteria import Condition, Criteria, Group, Not, fold_equalities, parse, to_text
from mappings.errors import CriteriaError, CriteriaSyntaxError, PlanError
from tests.support.strategies import criteria_trees


def test_parses_the_issue_example() -> None:
    """The issue's example parses into one `and` group of three conditions with typed values."""
    c = parse(
        'Industry in ["Retail", "Consumer Goods"] and Annual_Revenue >= 1_000_000 and Billing_Code starts with "94"'
    )
    assert c == Group(
        "and",
        (
            Condition("Industry", "in", ("Retail", "Consumer Goods")),
            Condition("Annual_Revenue", "greater_equal", 1_000_000),
            Condition("Billing_Code", "starts_with", "94"),
        ),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('A == "x"', Condition("A", "equal", "x")),
        ("A != 'it''s'", None),
        ("A < -2.50", Condition("A", "less_than", Decimal("-2.50"))),
        ("A <= 3", Condition("A", "less_equal", 3)),
        ("A > 2026-01-31", Condition("A", "greater_than", date(2026, 1, 31))),
        (
            "A >= 2026-01-31T09:00:00+01:00",
            Condition("A", "greater_equal", datetime(2026, 1, 31, 9, tzinfo=timezone(timedelta(hours=1)))),
        ),
        ("A == 2026-01-31T08:00:00Z", Condition("A", "equal", datetime(2026, 1, 31, 8, tzinfo=UTC))),
        ("A == true", Condition("A", "equal", True)),
        ("A == FALSE", Condition("A", "equal", False)),
        ("A not in [1, 2]", Condition("A", "not_in", (1, 2))),
        ("A in []", Condition("A", "in", ())),
        ('A contains "x"', Condition("A", "contains", "x")),
        ('A not contains "x"', Condition("A", "not_contains", "x")),
        ('A ends with "x"', Condition("A", "ends_with", "x")),
        ("A between 10 and 20", Condition("A", "between", (10, 20))),
        ("A between [10, 20]", Condition("A", "between", (10, 20))),
        (
            "A not between 2026-01-01 and 2026-12-31",
            Condition("A", "not_between", (date(2026, 1, 1), date(2026, 12, 31))),
        ),
        ("A is empty", Condition("A", "is_empty", None)),
        ("A is not empty", Condition("A", "is_not_empty", None)),
        ('Owner.email == "a@b.c"', Condition("Owner.email", "equal", "a@b.c")),
        ("$converted == false", Condition("$converted", "equal", False)),
        ('A == "tab\\there \\"q\\""', Condition("A", "equal", 'tab\there "q"')),
        ("Not_Here == 1", Condition("Not_Here", "equal", 1)),
    ],
)
def test_each_form_parses(text: str, expected: Criteria | None) -> None:
    """Every comparator, literal type and field form parses to the condition it means."""
    if expected is None:
        with pytest.raises(CriteriaSyntaxError):
            parse(text)
    else:
        assert parse(text) == expected


def test_and_binds_tighter_than_or_and_not_tightest() -> None:
    """`not a or b and c` is `(not a) or (b and c)`."""
    a, b, c = (Condition(n, "equal", 1) for n in "abc")
    assert parse("not a == 1 or b == 1 and c == 1") == Group("or", (Not(a), Group("and", (b, c))))


def test_parentheses_make_their_own_group() -> None:
    """Parentheses keep their structure, even around the same operator."""
    a, b, c = (Condition(n, "equal", 1) for n in "abc")
    assert parse("(a == 1 and b == 1) and c == 1") == Group("and", (Group("and", (a, b)), c))
    assert parse("a == 1 and b == 1 and c == 1") == Group("and", (a, b, c))
    assert parse("not (a == 1 or b == 1)") == Not(Group("or", (a, b)))


def test_between_and_inside_an_and_chain() -> None:
    """The `and` of `between x and y` is not taken for the boolean operator."""
    assert parse("A between 1 and 2 and B == 3") == Group(
        "and", (Condition("A", "between", (1, 2)), Condition("B", "equal", 3))
    )


def test_named_lists_resolve_and_are_remembered() -> None:
    """`@uk_postcodes` takes its values from `lists` and keeps its name for display and to_text."""
    c = parse("Billing_Code in @uk_postcodes", lists={"uk_postcodes": ["AB1", "CD2"]})
    assert c == Condition("Billing_Code", "in", ("AB1", "CD2"), value_source="@uk_postcodes")
    assert to_text(c) == "Billing_Code in @uk_postcodes"


def test_unknown_named_list_says_which_lists_exist() -> None:
    """An unknown named list is an error at its position that names the known lists."""
    with pytest.raises(CriteriaSyntaxError, match=r"unknown named list `@uk` .*known: @eu_postcodes") as info:
        parse("A == 1 and B in @uk", lists={"eu_postcodes": []})
    assert (info.value.line, info.value.column) == (1, 17)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("Industry in [", "expected `]` or a value, got the end of the text at line 1, column 14", 14),
        (
            "Industry in ]",
            "expected `[` or a named list (@name) after `in`, got `]` at line 1, column 13",
            13,
        ),
        ("Industry in [,]", "expected `]` or a value after `[`, got `,` at line 1, column 14", 14),
        ("Industry == Retail", "expected a value after `==`, got `Retail` at line 1, column 13", 13),
        ("Industry = 'x'", "unexpected `=` at line 1, column 10; expected `between`, `contains`", 10),
        ('Industry ~ "x"', "unexpected `~` at line 1, column 10", 10),
        (
            "A == 1 and",
            "expected `(`, `not` or a field name, got the end of the text at line 1, column 11",
            11,
        ),
        ("A == 2026-02-30", "`2026-02-30` is not a valid date", 6),
        ("A == 2026-01-31T09:00", "date-time `2026-01-31T09:00` has no time zone", 6),
        ("A == 1__0", "badly placed `_` in number `1__0`", 6),
        ('A not starts with "x"', "`not starts with` is not a comparator", 1),
        ('A == "open', 'unterminated text starting at line 1, column 6: close it with "', 6),
        ("A == 1 B == 2", "expected `and`, `or` or the end of the criteria after `1`, got `B`", 8),
        ("A == é", 'unexpected `é` at line 1, column 6; expected a value (text needs quotes: "Retail")', 6),
    ],
)
def test_syntax_errors_say_what_was_expected_and_where(text: str, message: str, column: int) -> None:
    """A syntax error names what was expected, what was found, and points at it with a caret."""
    with pytest.raises(CriteriaSyntaxError) as info:
        parse(text)
    error = info.value
    assert message in str(error)
    assert error.column == column
    assert error.line == 1
    assert error.text == text
    assert str(error).endswith("\n  " + text + "\n  " + " " * (column - 1) + "^")


def test_syntax_error_on_a_later_line() -> None:
    """Errors in multi-line criteria give the right line and show that line."""
    with pytest.raises(CriteriaSyntaxError) as info:
        parse('Industry == "x"\n  and Revenue >>= 1')
    assert (info.value.line, info.value.column) == (2, 16)
    assert "  and Revenue >>= 1\n" in str(info.value)


def test_error_tree() -> None:
    """Syntax errors are criteria errors are plan errors, so one `except PlanError` catches them all."""
    assert issubclass(CriteriaSyntaxError, CriteriaError)
    assert issubclass(CriteriaError, PlanError)


def test_to_text_writes_readable_text() -> None:
    """to_text writes the language's own spelling: separators in numbers, quotes escaped, parentheses."""
    c = Group(
        "or",
        (
            Group("and", (Condition("A", "greater_equal", 1_000_000), Condition("B", "equal", 'say "hi"'))),
            Not(Condition("C", "between", (Decimal("1.50"), 2))),
            Condition("D", "is_not_empty", None),
        ),
    )
    assert (
        to_text(c) == '(A >= 1_000_000 and B == "say \\"hi\\"") or not C between 1.50 and 2 or D is not empty'
    )


@settings(max_examples=150, deadline=None)
@given(criteria_trees(with_ids=False))
def test_text_round_trip(criteria: Criteria) -> None:
    """parse(to_text(c)) == c for any criteria tree (Zoho field ids have no text form)."""
    assert parse(to_text(criteria)) == criteria


def test_to_text_refuses_a_field_name_it_cannot_spell() -> None:
    """A field name that would not parse back (a space, the keyword `not`) is refused, not written."""
    for name in ("Annual Revenue", "not"):
        with pytest.raises(CriteriaError, match="cannot be written in the criteria language"):
            to_text(Condition(name, "equal", 1))


def test_fold_equalities_writes_an_or_of_equalities_on_one_field_as_in() -> None:
    """`A == x or A == y or B == z or A in [w]` folds A's values into one `in` where A first stood; B stays."""
    tree = parse('Billing_Country == "UK" or Industry == "Retail" or Billing_Country == "Ireland" '
                 'or Billing_Country in ["France", "UK"]')
    assert to_text(fold_equalities(tree)) == 'Billing_Country in ["UK", "Ireland", "France"] or Industry == "Retail"'
    anded = parse('Billing_Country == "UK" and Billing_Country == "Ireland"')
    assert fold_equalities(anded) == anded, "only `or` groups fold"
    assert to_text(fold_equalities(parse('(A == 1 or A == 2) and not (B == "x" or B == "y")'))) == \
        'A in [1, 2] and not B in ["x", "y"]'
    booleans = parse("Active == true or Active == false")
    assert fold_equalities(booleans) == booleans, "a boolean field takes no `in`"
