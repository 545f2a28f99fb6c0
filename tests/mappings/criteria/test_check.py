"""check(): every problem of a criteria against the CRM's fields, each saying what to do."""

from __future__ import annotations

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.criteria import Condition, check, parse

CATALOGUE = FieldCatalogue(
    "Accounts",
    {
        f.api_name: f
        for f in (
            FieldInfo("Industry", "picklist", picklist_values=("Retail", "Banking", "Consumer Goods")),
            FieldInfo("Annual_Revenue", "currency"),
            FieldInfo("Billing_Code", "text"),
            FieldInfo("Owner", "ownerlookup"),
            FieldInfo("Founded", "date"),
        )
    },
)


def test_clean_criteria_have_no_problems() -> None:
    """Criteria that fit the catalogue give an empty list."""
    c = parse(
        'Industry in ["retail", "Banking"] and Annual_Revenue >= 1_000 and Owner.email ends with ".com"'
    )
    assert check(c, CATALOGUE) == []


def test_unknown_field_suggests_the_closest_name() -> None:
    """A misspelt field is reported with a "did you mean"."""
    [problem] = check(parse('Industri == "Retail"'), CATALOGUE)
    assert problem.field == "Industri"
    assert problem.severity == "error"
    assert problem.message == "unknown field 'Industri' in Accounts; did you mean Industry?"


def test_unknown_field_with_wrong_case_suggests_the_right_case() -> None:
    """API names are case-sensitive: `industry` is unknown and `Industry` is suggested."""
    [problem] = check(parse('industry == "Retail"'), CATALOGUE)
    assert "did you mean Industry?" in problem.message


def test_unknown_field_without_a_close_name_says_where_to_look() -> None:
    """With nothing close, the message says to use the API name."""
    [problem] = check(parse('Zzz == "x"'), CATALOGUE)
    assert problem.message.endswith("use the field's API name (Setup → Fields)")


def test_dotted_path_on_a_non_lookup() -> None:
    """`Industry.name` is refused: Industry is not a lookup."""
    [problem] = check(parse('Industry.name == "x"'), CATALOGUE)
    assert "Industry is not a lookup" in problem.message


def test_comparator_that_does_not_fit_the_type() -> None:
    """`starts with` on a currency is an error listing the comparators that do apply."""
    [problem] = check(parse('Annual_Revenue starts with "1"'), CATALOGUE)
    assert problem.message.startswith(
        "Annual_Revenue is a number field: `starts with` does not apply to it; use one of =="
    )


def test_text_that_is_not_a_number_compared_with_a_currency() -> None:
    """A string that is no number, compared with a currency, is an error saying what to write."""
    [problem] = check(parse('Annual_Revenue > "lots"'), CATALOGUE)
    assert problem.severity == "error"
    assert "'lots' is not a valid number value; write a number such as 1_000_000" in problem.message


def test_quoted_number_for_a_currency_is_a_warning() -> None:
    """A number written as text works (it is read as a number) but is flagged to be written unquoted."""
    [problem] = check(parse('Annual_Revenue > "1000"'), CATALOGUE)
    assert problem.severity == "warning"
    assert "write it without quotes" in problem.message


def test_date_field_with_a_number() -> None:
    """A number compared with a date field is an error."""
    [problem] = check(parse("Founded > 2026"), CATALOGUE)
    assert problem.severity == "error"
    assert "is not a valid date value" in problem.message


def test_value_not_in_the_picklist() -> None:
    """A picklist value that is not among the options is a warning with the closest option."""
    [problem] = check(parse('Industry == "Retial"'), CATALOGUE)
    assert problem.severity == "warning"
    assert problem.message == "'Retial' is not an option of the picklist Industry; did you mean 'Retail'?"


def test_wrong_value_shape() -> None:
    """`in` without a list and `between` without two values are reported."""
    problems = check(Condition("Industry", "in", "Retail"), CATALOGUE)
    assert [p.message for p in problems][:1] == ["`in` needs a list of values"]


def test_reports_every_problem_in_reading_order() -> None:
    """check() does not stop at the first problem."""
    problems = check(parse('Zzz == 1 or Annual_Revenue contains "1" or Industry == "Nope"'), CATALOGUE)
    assert [p.field for p in problems] == ["Zzz", "Annual_Revenue", "Industry"]
    assert str(problems[1]).startswith('error: Annual_Revenue contains "1": ')


def test_problems_of_a_long_list_are_summarised() -> None:
    """A named list of many bad values gives one problem per severity with a count, not one per value."""
    c = parse("Annual_Revenue in @revenues", lists={"revenues": ["1", "2", "x", "y", "z"]})
    problems = check(c, CATALOGUE)
    assert [(p.severity, p.message.split("; ")[0]) for p in problems] == [
        ("error", "Annual_Revenue: 'x' is not a valid number value"),
        ("warning", "Annual_Revenue is a number field compared with the text '1'"),
    ]
    assert problems[0].message.endswith("(and 2 more values like it)")
    assert problems[1].message.endswith("(and 1 more values like it)")


def test_unknown_sub_field_of_a_lookup_with_a_known_module() -> None:
    """With the related module's catalogue, a misspelt lookup sub-field gets a "did you mean" from it."""
    deals = FieldCatalogue(
        "Deals",
        {"Account_Name": FieldInfo("Account_Name", "lookup", lookup_module="Accounts")},
        related={"Accounts": CATALOGUE},
    )
    [problem] = check(parse("Account_Name.Annual_Revenu > 1"), deals)
    assert problem.message == (
        "Account_Name points at Accounts, unknown field 'Annual_Revenu' in Accounts; did you mean Annual_Revenue?"
    )
    assert check(parse("Account_Name.Annual_Revenue > 1 and Account_Name.id == '7'"), deals) == []
