"""Benchmark: does a sync survive kills and a faulty CRM? Prints JSON figures (not a test).

Two measurements on a generated sandbox org (``--accounts``, default 20,000; cached in
``--cache-dir`` like ``bench/sync.py``), each run of ``territory-sync sync --yes --json`` a child
process, the sandbox in this process:

1. **Kills.** A reference first sync on a fresh copy of the org gives the CRM a never-killed sync
   leaves. Then, ``--kills`` times (default 20), on a fresh copy: a first sync is SIGKILLed at a
   random point of its apply (once its run has recorded a random number of outcomes, drawn from
   ``--kill-seed``, plus a random 0–50 ms so that the kill lands inside a call), and a second sync
   runs to its end. Per kill: *converged* (the second sync succeeded and the CRM equals the
   reference's), *pending* (changes still 'pending' in the ledger: none should be left once the
   second run has settled the killed one), *pending_shown* (of those, ones the CRM shows applied),
   *doubled* (a change target applied, or found 'already', in both runs or twice), *already* (the
second run finding in the CRM what it re-sent: the killed run had applied it), *lost* (a
   change of the reference missing from the CRM, or a CRM difference). The killed runs'
   recorded calls show that calls are counted as they go.
2. **Soak.** On a fresh copy, with the sandbox's faults on (``--error-rate`` 10 % 5xx, 429 bursts,
   dropped connections, token expiries; see ``connector/sandbox/faults.py``) syncs run until one
   succeeds and a plan finds nothing left to change, at most ``--soak-runs``: how many runs it
   took (target: at most 2), and whether the CRM then equals the reference.

Usage::

    .venv/bin/python bench/reliability.py                       # 20 kills + soak, 20,000 accounts
    .venv/bin/python bench/reliability.py --accounts 2000 --kills 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.sync import (  # noqa: E402  (the repository on the path first)
    DEFAULT_CACHE,
    DEFAULT_PLAN,
    EDITION,
    TENANT,
    cached_org,
    run_sync_process,
    write_config,
)
from connector.sandbox import FaultOptions, Sandbox, start_sandbox  # noqa: E402
from connector.sandbox.store import DB_FILENAME  # noqa: E402
from jobs.ledger import Ledger  # noqa: E402

log = logging.getLogger(__name__)

EFFECTIVE = ("applied", "already")
SOAK_READ_TIMEOUT_S = 2.0  # the soak's client read timeout: a slower answer is lost


# ── the CRM, read straight from the sandbox's file ─────────────────────────────────────────────


def crm_state(data_dir: Path) -> dict[str, Any]:
    """What a sync decides, by names (ids minted in two copies differ): territories and parents,
    members, assignments, shares and target amounts."""
    with closing(sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)) as db:
        names = dict(db.execute("SELECT id, name FROM territories").fetchall())
        territories = sorted((n, names.get(p)) for n, p in db.execute("SELECT name, parent_id FROM territories"))
        members = sorted((names[t], u) for t, u in db.execute("SELECT territory_id, user_id FROM territory_users"))
        assigned = sorted(
            (m, r, names.get(t), how)
            for m, r, t, how in db.execute("SELECT module, record_id, territory_id, assigned FROM record_territories")
        )
        shares = sorted(
            (m, r, u, json.loads(j).get("permission"))
            for m, r, u, j in db.execute("SELECT module, record_id, user_id, json FROM shares")
        )
        targets = sorted(
            (str(rec.get("Target_Key")), str(rec.get("Target_Amount")))
            for (j,) in db.execute("SELECT json FROM records WHERE module = 'Forecast_Targets'")
            for rec in [json.loads(j)]
        )
    return {"territories": territories, "members": members, "assignments": assigned, "shares": shares,
            "targets": targets}


def differences(a: dict[str, Any], b: dict[str, Any]) -> int:
    """How many items differ between two CRM states (in one and not the other, summed)."""
    return sum(len(set(map(tuple, a[k])) ^ set(map(tuple, b[k]))) for k in a)


# ── one org copy, one child sync ────────────────────────────────────────────────────────────────


@contextmanager
def org_copy(org: Path, accounts: int, seed: int) -> Iterator[tuple[Path, Sandbox]]:
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp:
        work = Path(tmp)
        shutil.copytree(org, work / "sandbox")
        with start_sandbox(work / "sandbox", accounts=accounts, seed=seed, edition=EDITION) as sb:
            yield work, sb


def child_env(sb: Sandbox) -> dict[str, str]:
    prefix = f"TERRITORY_SYNC_TENANTS__{TENANT.upper()}__CREDENTIALS__"
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        f"{prefix}CLIENT_ID": sb.credentials.client_id,
        f"{prefix}CLIENT_SECRET": sb.credentials.client_secret,
        f"{prefix}REFRESH_TOKEN": sb.credentials.refresh_token,
    }


def outcome_counts(ledger_file: Path) -> tuple[int | None, int, int]:
    """(newest run id, its changes with an outcome, its changes pending), straight from SQLite."""
    if not ledger_file.exists():
        return None, 0, 0
    try:
        with closing(sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT max(id) FROM runs").fetchone()
            if row is None or row[0] is None:
                return None, 0, 0
            counts = dict(db.execute("SELECT status, count(*) FROM changes WHERE run_id = ? GROUP BY status",
                                     (row[0],)).fetchall())
    except sqlite3.OperationalError:  # the schema is not there yet, or a write holds it
        return None, 0, 0
    pending = counts.pop("pending", 0)
    return int(row[0]), sum(counts.values()), pending


def killed_sync(config: Path, sb: Sandbox, work: Path, at: int, extra_s: float, timeout_s: float) -> dict[str, Any]:
    """A sync SIGKILLed once its run has ``at`` outcomes recorded (plus ``extra_s``)."""
    ledger_file = work / "state" / "ledger.sqlite3"
    with (work / "killed.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "sync", "--yes", "--config", str(config)],
            cwd=REPO, env=child_env(sb), stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                _run, done, _pending = outcome_counts(ledger_file)
                if done >= at:
                    time.sleep(extra_s)
                    break
                time.sleep(0.01)
            ended_first = proc.poll() is not None
            if not ended_first:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    run_id, done, pending = outcome_counts(ledger_file)
    out: dict[str, Any] = {"run_id": run_id, "killed": not ended_first, "outcomes_before_kill": done,
                           "pending_at_kill": pending}
    if ended_first:  # the sync ended before its kill point: say how
        lines = (work / "killed.log").read_text(encoding="utf-8", errors="replace").splitlines()
        out["ended_with"] = {"exit": proc.returncode, "last_lines": lines[-3:]}
    return out


def ledger_figures(work: Path, reference_keys: set[tuple[str, str]]) -> dict[str, Any]:
    """Pending, doubled and missing changes over every run the ledger of ``work`` holds."""
    with Ledger.open(f"sqlite:///{work / 'state' / 'ledger.sqlite3'}") as ledger:
        runs = ledger.runs(TENANT)
        rows = [c for r in runs for c in ledger.changes(r.id)]
        calls = {r.id: (r.status, r.calls, r.credits) for r in runs}
    effective = Counter((c.kind, c.target) for c in rows if c.status in EFFECTIVE)
    return {
        "pending": [c for c in rows if c.status == "pending"],
        "doubled": sum(1 for n in effective.values() if n > 1),
        # 'already' answers to runs after the first: re-sending what a killed run had applied (the
        # first run's own, such as a manager Zoho made a member, are answers it recorded itself).
        "already": sum(1 for c in rows if c.status == "already" and c.run_id != min(calls)),
        "missing": len(reference_keys - set(effective)),
        "settled_applied": sum(1 for c in rows if c.message and "confirmed from the CRM's state" in c.message),
        "settled_not_applied": sum(1 for c in rows if c.status == "not_applied"),
        "runs": calls,
    }


def pending_shown(data_dir: Path, pending: list[Any]) -> int:
    """Of pending changes, how many the CRM shows applied (assignments and memberships, by id)."""
    if not pending:
        return 0
    with closing(sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)) as db:
        assigned = set(db.execute("SELECT module, record_id, territory_id FROM record_territories").fetchall())
        members = set(db.execute("SELECT territory_id, user_id FROM territory_users").fetchall())
        by_name = {n.casefold() for (n,) in db.execute("SELECT name FROM territories")}
    shown = 0
    for c in pending:
        if c.kind == "assignment.add":
            shown += (c.module, c.record_id, c.territory_id) in assigned
        elif c.kind == "member.add":
            shown += (c.territory_id, c.user_id) in members
        elif c.kind == "territory.create":
            shown += str((c.after or {}).get("name", "")).casefold() in by_name
    return shown


# ── the two measurements ────────────────────────────────────────────────────────────────────────


def reference(org: Path, args: argparse.Namespace) -> tuple[dict[str, Any], set[tuple[str, str]], int, float]:
    with org_copy(org, args.accounts, args.seed) as (work, sb):
        config = write_config(work, sb, args.plan)
        started = time.perf_counter()
        result = run_sync_process(config, sb, work, "reference")
        wall = time.perf_counter() - started
        with Ledger.open(f"sqlite:///{work / 'state' / 'ledger.sqlite3'}") as ledger:
            run = ledger.runs(TENANT)[0]
            keys = {(c.kind, c.target) for c in ledger.changes(run.id)}
        state = crm_state(work / "sandbox")
    report = result["report"]
    if report["status"] != "succeeded":
        raise RuntimeError(f"the reference sync ended {report['status']}")
    return state, keys, int(report["changes"]), wall


def one_kill(org: Path, args: argparse.Namespace, ref: dict[str, Any], keys: set[tuple[str, str]], total: int,
             rng: random.Random, i: int) -> dict[str, Any]:
    at = rng.randint(1, max(1, total - 1))
    extra = rng.uniform(0, 0.05)
    with org_copy(org, args.accounts, args.seed) as (work, sb):
        config = write_config(work, sb, args.plan)
        sb.admin.set_faults(FaultOptions(latency_ms=args.latency_ms))
        kill = killed_sync(config, sb, work, at, extra, timeout_s=args.timeout_s)
        sb.admin.set_faults(FaultOptions())
        resumed = run_sync_process(config, sb, work, "resumed")["report"]
        figures = ledger_figures(work, keys)
        state = crm_state(work / "sandbox")
        lost = figures["missing"] + differences(ref, state)
        killed_run = figures["runs"].get(kill["run_id"]) if kill["run_id"] is not None else None
        out = {
            "kill": i + 1,
            "kill_after_outcomes": at,
            **kill,
            "killed_run_calls": killed_run[1] if killed_run else None,
            "killed_run_credits": killed_run[2] if killed_run else None,
            "resumed_status": resumed["status"],
            "resumed_changes": resumed["changes"],
            "converged": resumed["status"] == "succeeded" and differences(ref, state) == 0 and not figures["pending"],
            "pending": len(figures["pending"]),
            "pending_shown": pending_shown(work / "sandbox", figures["pending"]),
            "doubled": figures["doubled"],
            "already": figures["already"],
            "lost": lost,
            "settled_applied": figures["settled_applied"],
            "settled_not_applied": figures["settled_not_applied"],
        }
    print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def any_sync(config: Path, sb: Sandbox, work: Path, label: str) -> dict[str, Any]:
    """``sync --yes --json`` in a child process, whatever its end: exit, report (if any), error line."""
    out_path, err_path = work / f"{label}.stdout", work / f"{label}.stderr"
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        code = subprocess.call(
            [sys.executable, "-m", "jobs.cli", "sync", "--yes", "--json", "--config", str(config)],
            cwd=REPO, env=child_env(sb), stdout=out, stderr=err,
        )
    stdout = out_path.read_text(encoding="utf-8")
    lines = [ln for ln in err_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    try:
        report: dict[str, Any] | None = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        report = None
    return {"exit": code, "report": report, "error": lines[-1][:600] if code not in (0, 1) and lines else None,
            "wall_s": round(time.perf_counter() - started, 1)}


def soak(org: Path, args: argparse.Namespace, ref: dict[str, Any], keys: set[tuple[str, str]]) -> dict[str, Any]:
    faults = FaultOptions(
        error_rate=args.error_rate,
        burst_429_every=args.burst_every,
        burst_429_length=args.burst_length,
        drop_rate=args.drop_rate,
        expire_tokens_every=args.expire_every,
        # Answers lost after the write: the sandbox serves the call after the delay, by when the
        # client (read timeout below) has given up on it.
        slow_rate=args.lost_rate,
        slow_ms=SOAK_READ_TIMEOUT_S * 1000 + 1000,
    )
    runs: list[dict[str, Any]] = []
    with org_copy(org, args.accounts, args.seed) as (work, sb):
        config = write_config(work, sb, args.plan)
        with config.open("a", encoding="utf-8") as f:
            f.write(f"\n[tenants.{TENANT}.http]\nread_timeout_s = {SOAK_READ_TIMEOUT_S}\n")
        sb.admin.set_faults(faults)
        converged_after: int | None = None
        for n in range(1, args.soak_runs + 1):
            result = any_sync(config, sb, work, f"soak-{n}")
            report = result["report"] or {}
            runs.append({"run": n, "exit": result["exit"], "status": report.get("status"),
                         "changes": report.get("changes"), "calls": report.get("calls"),
                         "wall_s": result["wall_s"], "error": result["error"]})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
            if report.get("status") == "succeeded":
                converged_after = n
                break
        stats = requests.get(f"{sb.base_url}/__sandbox/faults/stats", timeout=10).json()
        sb.admin.set_faults(FaultOptions())
        figures = ledger_figures(work, keys)
        state = crm_state(work / "sandbox")
    return {
        "faults": faults.to_json(),
        "runs_to_converge": converged_after,
        "target_runs": 2,
        "runs": runs,
        "crm_differences_from_reference": differences(ref, state),
        "doubled": figures["doubled"],
        "lost": figures["missing"],
        "pending": len(figures["pending"]),
        "fault_stats": stats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="accounts in the demo org")
    parser.add_argument("--seed", type=int, default=7, help="demo org seed (the example plan fits seed 7)")
    parser.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="the territory plan")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where generated orgs are kept")
    parser.add_argument("--kills", type=int, default=20, help="random kill points (0: no kill measurement)")
    parser.add_argument("--kill-seed", type=int, default=1, help="seed of the kill points")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="latency per call while a killed sync runs")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="longest wait for a kill point")
    parser.add_argument("--soak-runs", type=int, default=5, help="most runs the soak tries (0: no soak)")
    parser.add_argument("--error-rate", type=float, default=0.10, help="soak: share of calls answered 500")
    parser.add_argument("--burst-every", type=int, default=200, help="soak: a 429 burst every N calls …")
    parser.add_argument("--burst-length", type=int, default=5, help="soak: … of this many calls")
    parser.add_argument("--drop-rate", type=float, default=0.02, help="soak: share of connections dropped")
    parser.add_argument("--expire-every", type=int, default=300, help="soak: expire access tokens every N calls")
    parser.add_argument("--lost-rate", type=float, default=0.01,
                        help="soak: share of calls whose answer is lost after the sandbox served them")
    args = parser.parse_args(argv)
    args.plan = args.plan.resolve()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    org, generated_s = cached_org(args.cache_dir, args.seed, args.accounts)
    started = time.perf_counter()
    ref, keys, total, ref_wall = reference(org, args)
    rng = random.Random(args.kill_seed)
    kills = [one_kill(org, args, ref, keys, total, rng, i) for i in range(args.kills)]
    soaked = soak(org, args, ref, keys) if args.soak_runs else None
    killed = [k for k in kills if k["killed"]]
    print(json.dumps({
        "benchmark": "territory-sync reliability: kill -9 during apply, and a soak under faults",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "accounts": args.accounts,
        "seed": args.seed,
        "org_generated_s": round(generated_s, 1) if generated_s is not None else "cached",
        "reference": {"changes": total, "wall_s": round(ref_wall, 1)},
        "kills": {
            "tried": len(kills),
            "killed_in_apply": len(killed),
            "converged": sum(1 for k in killed if k["converged"]),
            "pending_left": sum(k["pending"] for k in killed),
            "pending_left_shown_applied": sum(k["pending_shown"] for k in killed),
            "doubled": sum(k["doubled"] for k in killed),
            "already": sum(k["already"] for k in killed),
            "lost": sum(k["lost"] for k in killed),
            "settled_applied": sum(k["settled_applied"] for k in killed),
            "settled_not_applied": sum(k["settled_not_applied"] for k in killed),
            "killed_runs_with_0_calls": sum(1 for k in killed if not k["killed_run_calls"]),
            "each": kills,
        },
        "soak": soaked,
        "total_s": round(time.perf_counter() - started, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
