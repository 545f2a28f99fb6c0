"""The CRM's field metadata as the engine needs it: each field's API name and data type.

Built from Zoho's ``GET /settings/fields?module=`` answer (``fields[].api_name``,
``fields[].data_type``, ``fields[].lookup.module``); used to type-check criteria and to read
record values with the right type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

Kind: TypeAlias = Literal["text", "number", "date", "datetime", "boolean", "multi"]
"""How a field's values compare: the engine's six value kinds (lookups compare as text)."""

# Zoho data_type values the engine understands, grouped by how values compare.
TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website", "picklist", "autonumber"})
NUMBER_TYPES = frozenset({"integer", "bigint", "double", "currency", "percent", "decimal"})
DATE_TYPES = frozenset({"date"})
DATETIME_TYPES = frozenset({"datetime"})
BOOLEAN_TYPES = frozenset({"boolean"})
MULTI_TYPES = frozenset({"multiselectpicklist"})
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
LOOKUP_KEYS = frozenset({"id", "name"})  # every lookup object carries these, whatever its module

_KIND_BY_TYPE: dict[str, Kind] = {
    **{t: "text" for t in TEXT_TYPES | LOOKUP_TYPES},
    **{t: "number" for t in NUMBER_TYPES},
    **{t: "date" for t in DATE_TYPES},
    **{t: "datetime" for t in DATETIME_TYPES},
    **{t: "boolean" for t in BOOLEAN_TYPES},
    **{t: "multi" for t in MULTI_TYPES},
}


@dataclass(frozen=True, slots=True)
class FieldInfo:
    api_name: str
    data_type: str
    id: str | None = None
    lookup_module: str | None = None  # for lookups: the module the lookup points at
    picklist_values: tuple[str, ...] = ()

    @property
    def kind(self) -> Kind:
        """How this field's own values compare; unknown Zoho types (formula, …) compare as text."""
        return _KIND_BY_TYPE.get(self.data_type, "text")

    @property
    def is_lookup(self) -> bool:
        return self.data_type in LOOKUP_TYPES


@dataclass(frozen=True)
class FieldCatalogue:
    """Fields of one module, by API name."""

    module: str
    fields: Mapping[str, FieldInfo]
    # Catalogues of the modules lookups point at, by module API name: they type a lookup's
    # sub-fields (a deal's ``Account_Name.Annual_Revenue``). Optional.
    related: Mapping[str, FieldCatalogue] = dataclasses.field(default_factory=dict)

    def get(self, api_name: str) -> FieldInfo | None:
        return self.fields.get(api_name.split(".", 1)[0])

    def kind_of(self, path: str) -> Kind | None:
        """The kind of a field path: ``Industry``, a lookup's name ``Account_Name``, or ``Owner.email``.

        A lookup's sub-field takes its type from the related module's catalogue when there is one,
        and compares as text otherwise. ``None`` when the field is unknown (also in a known related
        module), or when a dotted path is used on a field that is not a lookup.
        """
        info = self.get(path)
        if info is None:
            return None
        if "." not in path:
            return info.kind
        if not info.is_lookup:
            return None
        related = self.related.get(info.lookup_module or "")
        sub = path.split(".", 1)[1]
        if related is None or (sub in LOOKUP_KEYS and related.get(sub) is None):
            return "text"
        return related.kind_of(sub)

    @classmethod
    def from_zoho(cls, module: str, payload: Mapping[str, Any]) -> FieldCatalogue:
        """From the body of ``GET /crm/v8/settings/fields?module=<module>``."""
        return cls(module, {f.api_name: f for f in _fields(payload.get("fields") or [])})


def _fields(items: Iterable[Mapping[str, Any]]) -> Iterable[FieldInfo]:
    for item in items:
        lookup = item.get("lookup") or {}
        module = (lookup.get("module") or {}).get("api_name") if isinstance(lookup, Mapping) else None
        picklist = tuple(
            str(v.get("actual_value") or v.get("display_value"))
            for v in item.get("pick_list_values") or []
            if isinstance(v, Mapping)
        )
        yield FieldInfo(
            api_name=str(item["api_name"]),
            data_type=str(item.get("data_type") or "text"),
            id=str(item["id"]) if item.get("id") is not None else None,
            lookup_module=module,
            picklist_values=picklist,
        )


def criteria_catalogues(field_metadata: Callable[[str], Any]) -> dict[str, FieldCatalogue]:
    """The catalogues a plan's criteria are checked against — Accounts, and Deals with the Accounts
    lookup resolved — from a CRM's field metadata (``field_metadata(module)``, Zoho's answer)."""
    accounts = FieldCatalogue.from_zoho("Accounts", field_metadata("Accounts"))
    deals = FieldCatalogue.from_zoho("Deals", field_metadata("Deals"))
    return {"Accounts": accounts, "Deals": dataclasses.replace(deals, related={"Accounts": accounts})}
