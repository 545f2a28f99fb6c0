"""Benchmark: how fast the sandbox generates demo orgs (``connector.sandbox.demo.generate_org``).

For each size, each run builds the org, then exhausts the accounts and the deals generators,
JSON-serialising every record (what loading it into the sandbox's store costs at the least). The
printed JSON gives the median of the runs per size, wall-clock and CPU time (CPU time is the
steadier figure on a shared machine)::

    .venv/bin/python bench/sandbox_demo.py                  # 100k and 1M accounts, 3 runs each
    .venv/bin/python bench/sandbox_demo.py --sizes 100000 --runs 5

Deals are generated from their own pass over the accounts (the two generators are independent),
so ``deals_s`` includes regenerating the accounts without serialising them.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from typing import Any

from connector.sandbox.demo import generate_org


def one_run(seed: int, size: int) -> dict[str, float | int]:
    cpu_start = time.process_time()
    start = time.perf_counter()
    org = generate_org(seed, size)
    setup = time.perf_counter()
    accounts = account_bytes = 0
    for record in org.accounts:
        account_bytes += len(json.dumps(record))
        accounts += 1
    after_accounts = time.perf_counter()
    deals = deal_bytes = 0
    for record in org.deals:
        deal_bytes += len(json.dumps(record))
        deals += 1
    end = time.perf_counter()
    cpu = time.process_time() - cpu_start
    return {
        "cpu_s": cpu,
        "setup_s": setup - start,
        "accounts_s": after_accounts - setup,
        "deals_s": end - after_accounts,
        "total_s": end - start,
        "accounts": accounts,
        "deals": deals,
        "json_mb": (account_bytes + deal_bytes) / 1e6,
    }


def measure(size: int, runs: int, seed: int) -> dict[str, Any]:
    results = [one_run(seed, size) for _ in range(runs)]
    median = {key: statistics.median(float(r[key]) for r in results) for key in results[0]}
    return {
        "accounts": size,
        "deals": int(median["deals"]),
        "users": len(generate_org(seed, size).users),
        "runs": runs,
        "median_setup_s": round(median["setup_s"], 4),
        "median_accounts_s": round(median["accounts_s"], 2),
        "median_deals_s": round(median["deals_s"], 2),
        "median_total_s": round(median["total_s"], 2),
        "median_cpu_s": round(median["cpu_s"], 2),
        "accounts_per_s": round(size / median["accounts_s"]),
        "json_mb": round(median["json_mb"], 1),
        "all_total_s": [round(float(r["total_s"]), 2) for r in results],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    figures = [measure(size, args.runs, args.seed) for size in args.sizes]
    print(json.dumps({
        "benchmark": "sandbox demo org generation (generate + exhaust + json.dumps every record)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": figures,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
