"""Plan validation: every problem at once, each with file, line, key and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.errors import PlanError
from mappings.plan import UserRef
from mappings.problems import PlanValidationError, Problem
from mappings.validate import load_plan, parse_plan

GOOD = '''version = 1

[territories.emea]
name = "EMEA"
accounts = 'Billing_Country == "France"'
'''


def problems(text: str, **kwargs: object) -> list[Problem]:
    with pytest.raises(PlanValidationError) as info:
        parse_plan(text, **kwargs)  # type: ignore[arg-type]
    return list(info.value.problems)


def test_a_valid_plan_loads() -> None:
    """A minimal valid plan gives its territory with parsed criteria and a version hash."""
    plan = parse_plan(GOOD)
    assert plan.territories["emea"].accounts is not None
    assert len(plan.territories["emea"].criteria_version) == 12


def test_unknown_parent_says_where_and_suggests() -> None:
    """An unknown parent is reported at its line with a did-you-mean and what to do."""
    found = problems(GOOD + '\n[territories.uk]\nname = "UK"\nparent = "emeaa"\n')
    assert [p.render() for p in found] == [
        'plan.toml:9: territories.uk.parent: unknown parent "emeaa" — did you mean "emea"? '
        "Use the key of another territory, or leave parent out for a top-level territory."
    ]


def test_all_problems_are_reported_together() -> None:
    """Several independent mistakes come back in one error, in file order."""
    text = '''version = 1

[territories.a]
name = "Same"
parent = "c"
permission = "everything"

[territories.b]
name = "same"
accounts = "Industry =="

[territories.c]
name = "C"
parent = "a"
'''
    found = problems(text)
    messages = [(p.line, p.key) for p in found]
    assert (5, "territories.a.parent") in messages or (14, "territories.c.parent") in messages  # the cycle
    assert (6, "territories.a.permission") in messages
    assert (9, "territories.b.name") in messages
    assert any(p.key == "territories.b.accounts" and "column" in p.message for p in found)
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_cycle_is_named() -> None:
    """A parent cycle lists the territories in it."""
    text = 'version = 1\n[territories.a]\nparent = "b"\n[territories.b]\nparent = "a"\n'
    (found,) = problems(text)
    assert "parent cycle: a → b → a" in found.message


def test_criteria_syntax_error_points_at_the_line_inside_a_multiline_value() -> None:
    """A parse error in a multi-line criteria gives the file line of the bad criteria line."""
    text = 'version = 1\n[territories.a]\naccounts = """\nIndustry == "x"\n  and and\n"""\n'
    (found,) = problems(text)
    assert found.line == 5
    assert "line 2" in found.message


def test_unknown_fields_and_type_mismatches_against_a_catalogue() -> None:
    """With a field catalogue, unknown fields and wrong-typed values are problems."""
    catalogue = {"Accounts": FieldCatalogue("Accounts", {"Licences": FieldInfo("Licences", "integer")}),
                 "Deals": FieldCatalogue("Deals", {})}
    text = 'version = 1\n[territories.a]\naccounts = \'Licencs > 5 or Licences > "many"\'\n'
    found = problems(text, catalogue=catalogue)
    assert len(found) == 2
    assert all(p.line == 3 for p in found)
    assert "Licencs" in found[0].message


def test_type_conflicts_between_territories_without_a_catalogue() -> None:
    """Without a catalogue, one field compared with a number and a date across territories is reported."""
    text = 'version = 1\n[territories.a]\naccounts = "X > 5"\n[territories.b]\naccounts = "X > 2026-01-01"\n'
    (found,) = problems(text)
    assert "type" in found.message


def test_unknown_and_inactive_users() -> None:
    """Members and managers are checked against the CRM's users when given."""
    users = [UserRef("ana@x.example"), UserRef("old@x.example", active=False)]
    text = 'version = 1\n[territories.a]\nmanager = "old@x.example"\nmembers = ["ana@x.example", "anna@x.example", "nope"]\n'
    found = problems(text, users=users)
    messages = " | ".join(p.message for p in found)
    assert "inactive" in messages
    assert 'unknown user "anna@x.example" — did you mean "ana@x.example"?' in messages
    assert "not an email" in messages


def test_conflicting_pins_and_exclusions() -> None:
    """A record pinned twice, pinned and excluded, over the limit, or to an unknown territory is a problem."""
    text = GOOD + '''
[[pins]]
record = "1"
territories = ["emea"]

[[pins]]
record = "1"
territories = ["emea"]

[[pins]]
module = "Deals"
record = "2"
territories = ["emea", "emeb"]

[[exclusions]]
module = "Deals"
record = "2"
'''
    found = problems(text)
    keys = [p.key for p in found]
    assert "pins[1]" in keys  # pinned twice
    assert keys.count("pins[2].territories") == 2  # unknown territory, and over the one-per-deal limit
    assert "pins[2]" in keys  # pinned and excluded


def test_targets_that_do_not_add_up() -> None:
    """Explicit member amounts must add up to the target; children's targets must fit in the parent's."""
    text = '''version = 1
[territories.a]
[[territories.a.targets]]
fiscal_year = 2027
amount = 100

[territories.b]
parent = "a"
members = ["x@y.example", "z@y.example"]
[[territories.b.targets]]
fiscal_year = 2027
amount = 150
split = "explicit"
amounts = { "x@y.example" = 100, "z@y.example" = 40 }
distribution = "lumpy"
'''
    found = problems(text)
    rendered = "\n".join(p.render() for p in found)
    assert "add up to 140, the target is 150" in rendered
    assert "more than this territory's 100" in rendered
    assert 'unknown distribution "lumpy"' in rendered


def test_unknown_keys_and_bad_toml() -> None:
    """A misspelt key gets a suggestion; broken TOML is one problem with its line."""
    (found,) = problems(GOOD + 'prioirty = 3\n')
    assert 'did you mean "priority"' in found.message
    (broken,) = problems('version = 1\n[territories.a]\nname = "A"\nname = "B"\n')
    assert broken.line == 4


def test_lists_from_csv(tmp_path: Path) -> None:
    """Named lists are read from CSV next to the plan; a missing column or file is a problem."""
    (tmp_path / "codes.csv").write_text("code,x\nEC1A,1\nSW1A,2\n\n")
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('version = 1\n[lists.codes]\nfile = "codes.csv"\ncolumn = "code"\n'
                         '[territories.a]\naccounts = "Billing_Code in @codes"\n')
    plan = load_plan(plan_file)
    assert plan.lists["codes"].values == ("EC1A", "SW1A")
    plan_file.write_text('version = 1\n[lists.codes]\nfile = "codes.csv"\ncolumn = "postcode"\n'
                         '[lists.more]\nfile = "missing.csv"\ncolumn = "c"\n[territories.a]\n')
    with pytest.raises(PlanValidationError) as info:
        load_plan(plan_file)
    assert [p.key for p in info.value.problems] == ["lists.codes.column", "lists.more.file"]
    assert str(plan_file) in info.value.problems[0].render()


def test_validation_error_is_a_plan_error() -> None:
    """PlanValidationError belongs to the plan error tree and lists its problems in its message."""
    with pytest.raises(PlanError, match="1 problem in the territory plan"):
        parse_plan("[territories.a]\n")


def test_missing_plan_file(tmp_path: Path) -> None:
    """A plan path that does not exist is one problem naming the file."""
    with pytest.raises(PlanValidationError) as info:
        load_plan(tmp_path / "nope.toml")
    (found,) = info.value.problems
    assert found.file.endswith("nope.toml")
    assert "cannot read" in found.message
