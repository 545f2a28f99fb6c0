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


# ── Local input validated where it enters (issue 10) ────────────────────────────────────────────

LISTED = 'version = 1\n[lists.codes]\nfile = "{file}"\ncolumn = "code"\n[territories.a]\naccounts = "Billing_Code in @codes"\n'


def listed_plan(folder: Path, file: str) -> Path:
    plan_file = folder / "plan.toml"
    plan_file.write_text(LISTED.format(file=file))
    return plan_file


def test_a_list_outside_the_plans_folder_is_refused_without_reading_it(tmp_path: Path) -> None:
    """/proc/self/environ, an absolute path, ../ or a symlink out of the folder: one problem at the file key, no content."""
    plans = tmp_path / "plans"
    plans.mkdir()
    (tmp_path / "outside.csv").write_text("code\nSECRET-VALUE\n")
    (plans / "link.csv").symlink_to(tmp_path / "outside.csv")
    for file in ("/proc/self/environ", str(tmp_path / "outside.csv"), "../outside.csv", "link.csv"):
        with pytest.raises(PlanValidationError) as info:
            load_plan(listed_plan(plans, file))
        (found,) = info.value.problems
        assert (found.key, found.line) == ("lists.codes.file", 3)
        assert f"{file} is outside the plan's folder" in found.message
        assert "allowed_list_dirs" in found.hint
        assert "SECRET-VALUE" not in str(info.value)


def test_an_allowed_folder_lets_a_list_outside_the_plan_in(tmp_path: Path) -> None:
    """A folder given in list_dirs (the config's allowed_list_dirs) may hold the plan's lists."""
    plans, shared = tmp_path / "plans", tmp_path / "shared"
    plans.mkdir()
    shared.mkdir()
    (shared / "codes.csv").write_text("code\nEC1A\nSW1A\n")
    plan = load_plan(listed_plan(plans, str(shared / "codes.csv")), list_dirs=[shared])
    assert plan.lists["codes"].values == ("EC1A", "SW1A")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"code\nEC1A\nM\xfcnchen\n", "codes.csv:3: not UTF-8 text"),
        (b"code\nEC\x001A\n", "codes.csv:2: holds a NUL byte"),
        (b'code\n"EC1A\n', "codes.csv:2: not valid CSV (unexpected end of data)"),
        (b"code\n\"" + b"x" * 200_000 + b"\"\n", "codes.csv:2: not valid CSV (field larger than field limit"),
        (b"", "codes.csv is empty"),
        (b"TOKEN=1000.abc,PATH=/usr/bin\nx,y\n", 'column "code" is not in the header (line 1) of codes.csv, which has 2'),
    ],
)
def test_a_broken_list_file_names_file_and_line_never_its_content(tmp_path: Path, content: bytes, message: str) -> None:
    """A list file that is not UTF-8 CSV, or lacks the column, is one problem naming the file and line only."""
    (tmp_path / "codes.csv").write_bytes(content)
    with pytest.raises(PlanValidationError) as info:
        load_plan(listed_plan(tmp_path, "codes.csv"))
    (found,) = info.value.problems
    assert message in found.message
    assert "1000.abc" not in str(info.value)
    assert "PATH" not in str(info.value)


def test_a_plan_that_is_not_utf8_or_has_a_nul_path_is_a_problem(tmp_path: Path) -> None:
    """A latin-1 plan names its line; a plan path with a NUL byte is a problem, not a ValueError."""
    plan_file = tmp_path / "plan.toml"
    plan_file.write_bytes('version = 1\n[territories.a]\nname = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(PlanValidationError) as info:
        load_plan(plan_file)
    assert [(p.line, p.message) for p in info.value.problems] == [(3, "the plan file is not UTF-8 text (byte 40)")]
    with pytest.raises(PlanValidationError, match="holds a NUL byte"):
        load_plan(tmp_path / "pl\x00an.toml")


@pytest.mark.parametrize("record", ['"abc"', '""', '"12ab"', "-5", '"12345678901234567890"', '" 1"'])
def test_a_pin_or_exclusion_to_an_impossible_record_id_is_refused(record: str) -> None:
    """Zoho record ids are digit strings: anything else is a problem at the record key, with its line."""
    text = GOOD + f'\n[[pins]]\nrecord = {record}\nterritories = ["emea"]\n\n[[exclusions]]\nrecord = {record}\n'
    found = problems(text)
    assert [(p.key, p.line) for p in found] == [("pins[0].record", 8), ("exclusions[0].record", 12)]
    assert all("cannot be a Zoho record id" in p.message for p in found)


def test_digit_record_ids_are_accepted_as_strings_or_integers() -> None:
    """A 19-digit id as a string and a short id as a TOML integer both load, as strings."""
    plan = parse_plan(GOOD + '\n[[pins]]\nrecord = "2276164000000471001"\nterritories = ["emea"]\n'
                      '\n[[exclusions]]\nrecord = 42\n')
    assert [p.record for p in plan.pins] == ["2276164000000471001"]
    assert [e.record for e in plan.exclusions] == ["42"]


def test_an_empty_territory_name_is_refused() -> None:
    """name = "" (or blanks) is a problem with file, line and territory, not a silent fallback to the key."""
    for name in ('""', '"   "'):
        (found,) = problems(GOOD.replace('name = "EMEA"', f"name = {name}"))
        assert found.render() == ('plan.toml:4: territories.emea.name: the name is empty. '
                                  'Give territory "emea" a name, or leave name out to use its key.')


@pytest.mark.parametrize(
    ("target", "key", "message"),
    [
        ("fiscal_year = 99999\namount = 1", "territories.emea.targets[0].fiscal_year", "fiscal year 99999 is not a year from 1900 to 2200"),
        ('fiscal_year = 2027\namount = "' + "1" * 61 + '"', "territories.emea.targets[0].amount", "more than 16 digits"),
        ('fiscal_year = 2027\namount = "1e400"', "territories.emea.targets[0].amount", "more than 16 digits"),
        ('fiscal_year = 2027\namount = "NaN"', "territories.emea.targets[0].amount", "must be a non-negative number"),
    ],
)
def test_targets_out_of_range_are_problems(target: str, key: str, message: str) -> None:
    """A fiscal year no calendar holds or an amount past 16 digits is a problem, not an overflow later."""
    (found,) = problems(GOOD + f"\n[[territories.emea.targets]]\n{target}\n")
    assert found.key == key
    assert message in found.message


def test_criteria_nested_thousands_deep_are_a_problem_not_a_recursion_error() -> None:
    """Parentheses or `not` nested past MAX_NESTING are one problem at the criteria's key."""
    for deep in ("(" * 5000 + 'A == "b"' + ")" * 5000, "not " * 5000 + 'A == "b"'):
        (found,) = problems(f"version = 1\n[territories.a]\naccounts = '{deep}'\n")
        assert found.key == "territories.a.accounts"
        assert "nested more than 64 levels deep" in found.message


def test_a_plan_nested_thousands_deep_in_toml_is_a_problem() -> None:
    """TOML arrays nested 100,000 deep are one problem, not a RecursionError."""
    (found,) = problems("version = 1\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested thousands deep" in found.message
