"""Benchmark of the territory engine: a synthetic org evaluated columnar, and naively as the baseline.

    python bench/engine.py [--accounts 1000000] [--territories 1000] [--repeat 3] [--sample 20000]

Builds a five-level hierarchy (9 regions by country and one revenue overlay → 3 sub-regions by
state → 3 by industry → 3 by revenue band → up to 3 by licence band, breadth first until
``--territories``) and a frame
of ``--accounts`` synthetic accounts, then times ``evaluate_accounts`` (median of ``--repeat``
runs, polars on one thread). The baseline is ``reference_accounts`` — record by record, territory
by territory, with the plain reference criteria evaluation — on the first ``--sample`` accounts
in the same process; both results are compared on that sample. Prints one JSON object.
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one core, before polars is imported

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.criteria import build_frame, frame_from_columns, parse
from mappings.evaluate import evaluate_accounts, reference_accounts
from mappings.plan import Territory, TerritoryPlan

# Lower-case, as build_frame normalizes text.
COUNTRIES = [f"country {i:02d}" for i in range(40)]
STATES = [f"state {i:02d}" for i in range(30)]
INDUSTRIES = [f"industry {i}" for i in range(9)]
CATALOGUE = FieldCatalogue(
    "Accounts",
    {
        "Billing_Country": FieldInfo("Billing_Country", "text"),
        "Billing_State": FieldInfo("Billing_State", "text"),
        "Industry": FieldInfo("Industry", "picklist"),
        "Annual_Revenue": FieldInfo("Annual_Revenue", "currency"),
        "Licences": FieldInfo("Licences", "integer"),
    },
)
LEVEL_BRANCHING = 3


def _quoted(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _rule(level: int, index: int, region: int) -> str:
    """The criteria of the ``index``-th child at ``level`` (1 = top)."""
    if level == 1 and region == 9:  # an overlay across regions: ~10% of accounts hold two territories
        return "Annual_Revenue >= 90_000_000"
    if level == 1:  # countries 36-39 belong to no region: ~10% of accounts are unmatched
        return f"Billing_Country in {_quoted(COUNTRIES[region * 4 : region * 4 + 4])}"
    if level == 2:
        return f"Billing_State in {_quoted(STATES[index * 10 : index * 10 + 10])}"
    if level == 3:
        return f"Industry in {_quoted(INDUSTRIES[index * 3 : index * 3 + 3])}"
    if level == 4:
        return ("Annual_Revenue < 33_000_000", "Annual_Revenue between 33_000_000 and 66_000_000",
                "Annual_Revenue > 66_000_000")[index]
    return ("Licences <= 60", "Licences between 61 and 140", "Licences > 140")[index]


def synthetic_plan(territories: int) -> TerritoryPlan:
    """Breadth first: 10 regions, then up to three children per territory, five levels at most."""
    out: dict[str, Territory] = {}
    level_nodes: list[tuple[str | None, int]] = [(None, 0)]  # (parent key, region)
    for level in range(1, 6):
        next_nodes: list[tuple[str | None, int]] = []
        for parent, region in level_nodes:
            for index in range(10 if level == 1 else LEVEL_BRANCHING):
                if len(out) >= territories:
                    break
                key = f"t{len(out):05d}"
                reg = index if level == 1 else region
                out[key] = Territory(key=key, name=key, parent=parent, members=(f"rep{len(out)}@bench.example",),
                                     accounts=parse(_rule(level, index, reg)))
                next_nodes.append((key, reg))
        level_nodes = next_nodes
    return TerritoryPlan(territories=out, source="<synthetic>")


def synthetic_accounts(count: int) -> pl.DataFrame:
    """The frame ``build_frame`` would make of ``count`` accounts (its column types, via ``frame_from_columns``)."""
    rows = pl.int_range(0, count, dtype=pl.UInt64, eager=True)

    def pick(values: list[str], seed: int) -> list[str]:
        index = (rows.hash(seed) % len(values)).cast(pl.UInt32)
        return pl.Series(values).gather(index).to_list()

    columns = {
        "id": rows.cast(pl.String).to_list(),
        "Billing_Country": pick(COUNTRIES, 1),
        "Billing_State": pick(STATES, 2),
        "Industry": pick(INDUSTRIES, 3),
        "Annual_Revenue": (rows.hash(4) % 100_000_000).cast(pl.Float64).to_list(),
        "Licences": (rows.hash(5) % 200).cast(pl.Float64).to_list(),
    }
    kinds = {name: kind for name in columns if (kind := CATALOGUE.kind_of(name)) is not None}
    return frame_from_columns(columns, kinds, normalized=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--territories", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000, help="accounts for the naive baseline")
    parser.add_argument("--from-records", action="store_true",
                        help="also time build_frame over Zoho-style record dicts (one run)")
    args = parser.parse_args(argv)

    plan = synthetic_plan(args.territories)
    start = time.perf_counter()
    frame = synthetic_accounts(args.accounts)
    build_s = time.perf_counter() - start
    runs: list[float] = []
    result = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = evaluate_accounts(plan, frame, CATALOGUE)
        runs.append(time.perf_counter() - start)
    assert result is not None
    engine_peak = _peak_mb()
    seconds = statistics.median(runs)

    from_records: dict[str, float] | None = None
    if args.from_records:
        dicts = frame.to_dicts()
        start = time.perf_counter()
        built = build_frame(dicts, sorted(CATALOGUE.fields), CATALOGUE)
        build_frame_s = time.perf_counter() - start
        start = time.perf_counter()
        evaluate_accounts(plan, built, CATALOGUE)
        from_records = {"build_frame_seconds": round(build_frame_s, 3),
                        "evaluate_seconds": round(time.perf_counter() - start, 3)}
        del dicts, built

    sample = frame.head(args.sample)
    records = sample.to_dicts()
    start = time.perf_counter()
    naive = reference_accounts(plan, records, CATALOGUE)
    naive_s = time.perf_counter() - start
    columnar_sample = evaluate_accounts(plan, sample, CATALOGUE)
    agree = columnar_sample == naive
    if not agree:
        differ = sorted(a for a in set(naive.territories) | set(columnar_sample.territories)
                        if naive.territories.get(a) != columnar_sample.territories.get(a))
        print(json.dumps({"disagreements": len(differ), "first": [
            {"account": a, "engine": columnar_sample.territories.get(a), "reference": naive.territories.get(a)}
            for a in differ[:3]]}), file=sys.stderr)

    print(json.dumps({
        "accounts": args.accounts,
        "territories": len(plan.territories),
        "levels": max(plan.depth.values()),
        "polars_threads": int(os.environ["POLARS_MAX_THREADS"]),
        "frame_build_seconds": round(build_s, 3),
        "runs_seconds": [round(r, 3) for r in runs],
        "seconds": round(seconds, 3),
        "accounts_per_second": round(args.accounts / seconds),
        "assigned_accounts": len(result.territories),
        "unmatched_accounts": len(result.unmatched),
        "accounts_in_several_territories": sum(1 for keys in result.territories.values() if len(keys) > 1),
        "peak_rss_mb_after_engine": round(engine_peak),
        "baseline": {
            "method": "reference_accounts: record by record, territory by territory (plain Python)",
            "accounts": len(records),
            "seconds": round(naive_s, 3),
            "accounts_per_second": round(len(records) / naive_s),
            "agrees_with_engine_on_sample": agree,
        },
        "from_records": from_records,
        "speedup": round((args.accounts / seconds) / (len(records) / naive_s), 1),
        "peak_rss_mb": round(_peak_mb()),
    }, indent=2))
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
