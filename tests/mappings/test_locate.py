"""The TOML key locator: line numbers for tables, keys, arrays of tables and values."""

from __future__ import annotations

from mappings.locate import SourceMap, split_key

TEXT = '''version = 1

[territories.emea]
name = "EMEA"
parent = "world"
accounts = """
Billing_Country == "France"
  and x == 1
"""
members = [
  "a@x.example",
  "b@x.example",
]

[territories."north-east"]
name = "NE"

[[pins]]
record = "1"

[[pins]]
record = "2"

[[territories.emea.targets]]
fiscal_year = 2027
'''


def test_table_and_key_lines() -> None:
    """Keys inside a table header are found on their own line."""
    smap = SourceMap.from_text(TEXT)
    assert smap.line_of(("version",)) == 1
    assert smap.line_of(("territories", "emea")) == 3
    assert smap.line_of(("territories", "emea", "parent")) == 5
    assert smap.line_of(("territories", "emea", "members")) == 10


def test_quoted_keys_and_unknown_keys_fall_back_to_the_table() -> None:
    """A quoted table name resolves, and a missing key answers its nearest known prefix."""
    smap = SourceMap.from_text(TEXT)
    assert smap.line_of(("territories", "north-east", "name")) == 16
    assert smap.line_of(("territories", "north-east", "priority")) == 15
    assert smap.line_of(("nothing",)) is None


def test_arrays_of_tables_are_numbered() -> None:
    """Each [[pins]] element gets its index, nested arrays too."""
    smap = SourceMap.from_text(TEXT)
    assert smap.line_of(("pins", 0, "record")) == 19
    assert smap.line_of(("pins", 1, "record")) == 22
    assert smap.line_of(("territories", "emea", "targets", 0, "fiscal_year")) == 25


def test_multiline_values_are_skipped_and_their_lines_mapped() -> None:
    """Lines inside a multi-line string or array are not keys; a value's line N maps to the file."""
    smap = SourceMap.from_text(TEXT)
    assert ("territories", "emea", "and x") not in smap.lines
    assert smap.value_line(("territories", "emea", "accounts"), 2) == 8
    single = SourceMap.from_text('[t.a]\naccounts = "x == 1"\n')
    assert single.value_line(("t", "a", "accounts"), 1) == 2


def test_split_key() -> None:
    """Dotted keys split on dots outside quotes."""
    assert split_key('territories."a.b".name') == ("territories", "a.b", "name")
