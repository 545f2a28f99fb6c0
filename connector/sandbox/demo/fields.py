"""The field metadata of Accounts, Deals and the forecast-targets module, as ``GET /settings/fields``
answers it.
"""

from __future__ import annotations

from typing import Any

from connector.sandbox.demo.names import (
    _FIELD_BASE,
    _MODULE_BASE,
    _PICKLIST_BASE,
    ACCOUNT_TYPES,
    DEAL_STAGES,
    DEAL_TYPES,
    INDUSTRIES,
    PERIOD_TYPES,
    PRODUCT_LINES,
    TARGETS_MODULE,
    _Ids,
    _zid,
)

_JSON_TYPES = {
    "text": "string", "picklist": "string", "email": "string", "phone": "string", "website": "string",
    "textarea": "string", "date": "string", "datetime": "string", "integer": "integer",
    "currency": "double", "double": "double", "boolean": "boolean", "lookup": "jsonobject",
    "ownerlookup": "jsonobject", "userlookup": "jsonobject", "multiselectpicklist": "jsonarray",
    "multiselectlookup": "jsonarray", "bigint": "string",
}


class _FieldFactory:
    def __init__(self, modules: dict[str, str], created: str) -> None:
        self.ids = _Ids(_FIELD_BASE)
        self.pick_ids = _Ids(_PICKLIST_BASE)
        self.modules = modules
        self.created = created
        self.profiles: list[dict[str, Any]] = []

    def __call__(
        self,
        module: str,
        api_name: str,
        label: str,
        data_type: str,
        *,
        custom: bool = False,
        read_only: bool = False,
        mandatory: bool = False,
        length: int = 255,
        values: tuple[str, ...] = (),
        lookup_module: str | None = None,
        unique: bool = False,
    ) -> dict[str, Any]:
        fid = self.ids()
        lookup: dict[str, Any] | None = None
        if lookup_module is not None:
            lookup = {
                "display_label": label,
                "api_name": api_name,
                "module": {"api_name": lookup_module, "id": self.modules[lookup_module]},
                "id": fid,
                "query_details": {},
                "revalidate_filter_during_edit": False,
                "show_fields": [],
            }
        pick_list_values = [
            {
                "display_value": v,
                "actual_value": v,
                "reference_value": v,
                "id": self.pick_ids(),
                "sequence_number": i + 1,
                "type": "used",
                "colour_code": None,
            }
            for i, v in enumerate(values)
        ]
        decimal_place = 2 if data_type in ("currency", "double") else None
        return {
            "api_name": api_name,
            "field_label": label,
            "display_label": label,
            "data_type": data_type,
            "json_type": _JSON_TYPES[data_type],
            "id": fid,
            "column_name": api_name.upper(),
            "custom_field": custom,
            "system_mandatory": mandatory,
            "read_only": read_only,
            "field_read_only": read_only,
            "visible": True,
            "length": length,
            "decimal_place": decimal_place,
            "currency": {"rounding_option": "normal", "precision": 2} if data_type == "currency" else None,
            "lookup": lookup,
            "pick_list_values": pick_list_values,
            "pick_list_values_sorted_lexically": False,
            "unique": {"casesensitive": "false"} if unique else None,
            "associated_module": {"api_name": module, "id": self.modules[module]},
            "operation_type": {"web_update": not read_only, "api_create": not read_only, "web_create": not read_only, "api_update": not read_only},
            "webhook": True,
            "blueprint_supported": False,
            "virtual_field": False,
            "customizable_properties": [],
            "businesscard_supported": False,
            "filterable": True,
            "available_in_user_layout": True,
            "display_field": api_name in ("Account_Name", "Deal_Name", "Name"),
            "sortable": True,
            "layout_associations": [],
            "separator": False,
            "searchable": True,
            "enable_colour_code": False,
            "mass_update": not read_only,
            "created_source": "crm" if custom else "default",
            "type": "used",
            "display_type": -1,
            "ui_type": 1,
            "colour_code_enabled_by_system": False,
            "quick_sequence_number": "0",
            "email_parser": {"fields_update_supported": False, "record_operations_supported": False},
            "rollup_summary": None,
            "refer_from_field": {"id": None, "api_name": None},
            "created_time": self.created if custom else None,
            "modified_time": self.created if custom else None,
            "show_type": 7,
            "category": 0,
            "multi_module_lookup": None,
            "sharing_properties": {"scheduler_status": "completed", "share_preference_enabled": False, "share_permission": "read-only"},
            "file_upolad_optionlist": [],
            "profiles": [dict(p) for p in self.profiles],
            "view_type": {"view": True, "edit": not read_only, "quick_create": False, "create": not read_only},
            "sub_module": {"api_name": None, "id": None},
            "subform": None,
            "external": {"show": False, "type": None},
            "formula": None,
            "convert_mapping": {},
            "multiselectlookup": None,
            "multiuserlookup": {
                "display_label": None, "linking_module": {"api_name": None, "id": None},
                "connected_module": {"api_name": None, "id": None}, "lookup_apiname": None, "api_name": None,
                "connectedfield_apiname": None, "connectedlookup_apiname": None, "id": None, "record_access": None,
            },
            "autonumber": {"starting_number_length": 0, "prefix": None, "suffix": None, "start_number": None},
            "auto_number": None,
            "crypt": {"mode": None, "status": None},
            "tooltip": {"name": "", "value": ""},
            "history_tracking": {"module": {}, "duration_configured_field": {"api_name": None, "id": None}},
            "association_details": {"related_field": {"api_name": None, "id": None}, "lookup_field": {"api_name": None, "id": None}},
            "allowed_modules": [],
            "additional_column": None,
            "common.picklist": None,
            "hipaa_compliance_enabled": False,
            "hipaa_compliance": {"restricted_in_export": False, "restricted": False},
            "_update_existing_records": False,
            "number_separator": data_type in ("integer", "currency", "double"),
            "textarea": {"type": "small"} if data_type == "textarea" else {},
            "static_field": False,
        }


def _fields(profiles: list[dict[str, Any]], created: str) -> dict[str, list[dict[str, Any]]]:
    modules = {"Accounts": _zid(_MODULE_BASE), "Deals": _zid(_MODULE_BASE + 1), TARGETS_MODULE: _zid(_MODULE_BASE + 2),
               "users": _zid(_MODULE_BASE + 3), "Territories": _zid(_MODULE_BASE + 4)}
    f = _FieldFactory(modules, created)
    f.profiles = [{"name": p["name"], "id": p["id"], "permission_type": "read_write"} for p in profiles]

    def system(module: str) -> list[dict[str, Any]]:
        return [
            f(module, "Owner", f"{'Account' if module == 'Accounts' else 'Deal' if module == 'Deals' else 'Target'} Owner",
              "ownerlookup", mandatory=True, lookup_module="users"),
            f(module, "Created_By", "Created By", "ownerlookup", read_only=True, lookup_module="users"),
            f(module, "Modified_By", "Modified By", "ownerlookup", read_only=True, lookup_module="users"),
            f(module, "Created_Time", "Created Time", "datetime", read_only=True),
            f(module, "Modified_Time", "Modified Time", "datetime", read_only=True),
        ]

    accounts = [
        f("Accounts", "Account_Name", "Account Name", "text", mandatory=True),
        *system("Accounts"),
        f("Accounts", "Account_Type", "Account Type", "picklist", values=("-None-", *ACCOUNT_TYPES)),
        f("Accounts", "Industry", "Industry", "picklist", values=("-None-", *INDUSTRIES)),
        f("Accounts", "Annual_Revenue", "Annual Revenue", "currency", length=16),
        f("Accounts", "Employees", "Employees", "integer", length=9),
        f("Accounts", "Phone", "Phone", "phone", length=30),
        f("Accounts", "Website", "Website", "website"),
        f("Accounts", "Billing_Street", "Billing Street", "text"),
        f("Accounts", "Billing_City", "Billing City", "text", length=100),
        f("Accounts", "Billing_State", "Billing State", "text", length=100),
        f("Accounts", "Billing_Code", "Billing Code", "text", length=30),
        f("Accounts", "Billing_Country", "Billing Country", "text", length=100),
        # [?] Zoho's metadata type for the territory field is not documented; written only through
        # assign_territories / remove_territories, hence read-only here.
        f("Accounts", "Territories", "Territories", "multiselectlookup", read_only=True, lookup_module="Territories"),
        f("Accounts", "Licences", "Licences", "integer", custom=True, length=9),
        f("Accounts", "Product_Lines", "Product Lines", "multiselectpicklist", custom=True, values=PRODUCT_LINES),
    ]
    deals = [
        f("Deals", "Deal_Name", "Deal Name", "text", mandatory=True, length=120),
        *system("Deals"),
        f("Deals", "Account_Name", "Account Name", "lookup", lookup_module="Accounts"),
        f("Deals", "Amount", "Amount", "currency", length=16),
        f("Deals", "Stage", "Stage", "picklist", mandatory=True, values=DEAL_STAGES),
        f("Deals", "Probability", "Probability (%)", "integer", length=3),
        f("Deals", "Closing_Date", "Closing Date", "date", mandatory=True),
        f("Deals", "Type", "Type", "picklist", values=("-None-", *DEAL_TYPES)),
        f("Deals", "Territory", "Territory", "lookup", read_only=True, lookup_module="Territories"),
        f("Deals", "Licences", "Licences", "integer", custom=True, length=9),
    ]
    targets = [
        f(TARGETS_MODULE, "Name", "Forecast Target Name", "text", mandatory=True, custom=True, length=120),
        *system(TARGETS_MODULE),
        f(TARGETS_MODULE, "Target_Key", "Target Key", "text", custom=True, unique=True, length=255),
        f(TARGETS_MODULE, "Territory_Id", "Territory Id", "text", custom=True, length=30),
        f(TARGETS_MODULE, "Territory_Name", "Territory Name", "text", custom=True, length=100),
        f(TARGETS_MODULE, "User", "User", "userlookup", custom=True, lookup_module="users"),
        f(TARGETS_MODULE, "Period", "Period", "text", custom=True, length=10),
        f(TARGETS_MODULE, "Period_Start", "Period Start", "date", custom=True),
        f(TARGETS_MODULE, "Period_Type", "Period Type", "picklist", custom=True, values=PERIOD_TYPES),
        f(TARGETS_MODULE, "Target_Amount", "Target Amount", "currency", custom=True, length=16),
    ]
    return {"Accounts": accounts, "Deals": deals, TARGETS_MODULE: targets}
