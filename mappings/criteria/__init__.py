"""The criteria language: parse, compile, explain, Zoho criteria JSON in and out.

::

    c = parse('Industry in ["Retail"] and Annual_Revenue >= 1_000_000', lists={...})
    compiled = compile(c, catalogue)                        # once per criteria
    frame = build_frame(records, compiled.fields, compiled.catalogue)
    frame.select(compiled.expr)                             # column-wise, for all records
    evaluate(c, record, catalogue)                          # the reference, one record
    explain(c, record, catalogue).render()                  # why
    to_zoho(c); from_zoho(json); check(c, catalogue)
"""

from mappings.criteria.ast import (
    COMPARATORS,
    Comparator,
    Condition,
    Criteria,
    Group,
    Not,
    Scalar,
    Value,
)
from mappings.criteria.check import CriteriaProblem, check
from mappings.criteria.compiler import CompiledCriteria, build_frame, compile, frame_from_columns
from mappings.criteria.explain import (
    ConditionResult,
    CriteriaExplanation,
    GroupResult,
    NotResult,
    explain,
)
from mappings.criteria.reference import evaluate
from mappings.criteria.text import parse, to_text
from mappings.criteria.values import conditions, fields_of, fold_equalities, infer_catalogue
from mappings.criteria.zoho import from_zoho, to_zoho

__all__ = [
    "COMPARATORS",
    "Comparator",
    "CompiledCriteria",
    "Condition",
    "ConditionResult",
    "Criteria",
    "CriteriaExplanation",
    "CriteriaProblem",
    "Group",
    "GroupResult",
    "Not",
    "NotResult",
    "Scalar",
    "Value",
    "build_frame",
    "check",
    "compile",
    "conditions",
    "evaluate",
    "explain",
    "fields_of",
    "fold_equalities",
    "frame_from_columns",
    "from_zoho",
    "infer_catalogue",
    "parse",
    "to_text",
    "to_zoho",
]
