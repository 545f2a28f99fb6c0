"""How long the ledger takes to record a large run: prints JSON figures (not a test).

    python bench/ledger.py [--changes N] [--url SQLALCHEMY_URL] [--repeat R]

Plans N assignment changes, records their outcomes in batches of 100 (as apply does), finishes
the run and reads the ownership back; median seconds of each step over R runs, on a fresh SQLite
file each time (or a URL you give, e.g. a PostgreSQL database).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from jobs.ledger import Ledger
from jobs.sync.run_data import Change, ChangeSet, Outcome, Reason


def one_run(url: str, n: int) -> dict[str, float]:
    changes = tuple(
        Change("assignment.add", f"Accounts/A{i} territory k{i % 7}", None, f"k{i % 7}", Reason("rule", f"k{i % 7}"),
               module="Accounts", record_id=f"A{i}", territory_key=f"k{i % 7}", territory_id=f"T{i % 7}")
        for i in range(n)
    )
    with Ledger.open(url) as ledger:
        t0 = time.perf_counter()
        run_id = ledger.start_run("bench", mode="full", dry_run=False, plan_digest="x")
        ledger.record_plan(run_id, ChangeSet(changes), ())
        t1 = time.perf_counter()
        for lo in range(0, n, 100):
            ledger.record_outcomes(run_id, [Outcome(seq=s, status="applied") for s in range(lo, min(lo + 100, n))])
        t2 = time.perf_counter()
        ledger.finish_run(run_id, status="succeeded", calls=0, credits=0)
        ledger.ownership("bench")
        t3 = time.perf_counter()
    return {"record_plan_s": t1 - t0, "record_outcomes_s": t2 - t1, "finish_and_ownership_s": t3 - t2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--url", help="a ledger URL (default: a fresh SQLite file per run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(args.url or f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}", args.changes))
    medians = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    print(json.dumps({"changes": args.changes, "database": "given URL" if args.url else "sqlite", "repeat": args.repeat,
                      **medians}, indent=2))


if __name__ == "__main__":
    main()
