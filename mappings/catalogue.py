"""The CRM's field metadata as the engine needs it: each field's API name and data type.

Built from Zoho's ``GET /settings/fields?module=`` answer (``fields[].api_name``,
``fields[].data_type``, ``fields[].lookup.module``); used to type-check criteria and to read
record values with the right type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Zoho data_type values the engine understands, grouped by how values compare.
TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website", "picklist", "autonumber"})
NUMBER_TYPES = frozenset({"integer", "bigint", "double", "currency", "percent", "decimal"})
DATE_TYPES = frozenset({"date"})
DATETIME_TYPES = frozenset({"datetime"})
BOOLEAN_TYPES = frozenset({"boolean"})
MULTI_TYPES = frozenset({"multiselectpicklist"})
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    api_name: str
    data_type: str
    id: str | None = None
    lookup_module: str | None = None  # for lookups: the module the lookup points at
    picklist_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldCatalogue:
    """Fields of one module, by API name."""

    module: str
    fields: Mapping[str, FieldInfo]

    def get(self, api_name: str) -> FieldInfo | None:
        return self.fields.get(api_name.split(".", 1)[0])

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
