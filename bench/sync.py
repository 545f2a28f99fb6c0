"""Benchmark: a whole sync of a large sandbox org, against the fewest calls and the least time possible.

For each repetition the script copies a cached demo org (generated once per seed and size into
``--cache-dir``), serves it from an in-process sandbox with ``FaultOptions(latency_ms=L)`` on every
CRM call, and runs ``territory-sync sync --yes --json`` on it **in a child process** twice:

1. the first sync (a full pull; the plan creates its territories and assigns most accounts);
2. after changing ``Billing_Country`` on ``--modify-share`` (default 1 %) of the accounts through
   the client's ``update_records``, an incremental sync.

For each run it prints, as JSON:

* ``calls``: the CRM API calls the sync made (the client's own count, retries included; the token
  endpoint is not a CRM call), and by what they were for (``calls_by_purpose``, from the client's
  one log line per HTTP call, which ``-v`` turns on; the two must agree);
* ``min_calls``: the fewest CRM calls any tool could make for the same change set and org,
  computed here from the change set (as the ledger recorded it) and record counts — not from
  apply's estimate: reads at 200 per page; one members read per territory; the current user,
  three field-metadata reads; one share call per account the sharing rules cover (a read, or
  the write alone where a share changes); writes at Zoho's per-call limits (territories 10 per call and one call per depth
  level for creates, users 100 per territory, assignments 100 records per module and kind, one
  share call per record, targets 100 per upsert);
* ``wall_s`` of the child process (interpreter start included) and ``run_s`` (the ledger's
  start-to-end of the run), against ``lower_bound_s = calls × latency / concurrency`` — what the
  concurrency limit allows at best for the calls made — the same bound for ``min_calls``, and
  ``lower_bound_paging_s``, which also honours that one module's pages are read one after
  another (page tokens), so the longest chain of pages takes at least pages × latency;
* ``peak_rss_mb`` of the sync process (``wait4``'s ``ru_maxrss``: the child alone, not the
  sandbox, which runs in this process).

With ``--repeat R`` every figure is the median over R fresh copies of the org (the raw values are
listed too). Usage::

    .venv/bin/python bench/sync.py                          # 100,000 accounts, 20 ms latency
    .venv/bin/python bench/sync.py --accounts 5000 --latency-ms 10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from connector import Applied, ClientConfig, TokenStore, ZohoClient
from connector.config import (
    EDITION_CONCURRENCY,
    MAX_PAGE_SIZE,
    MAX_RECORDS_PER_WRITE,
    MAX_TERRITORIES_PER_WRITE,
    MAX_USERS_PER_WRITE,
    PAGED_READ_CEILING,
)
from connector.sandbox import FaultOptions, Sandbox, start_sandbox
from jobs.ledger import ChangeRow, Ledger
from mappings import TerritoryPlan, load_plan

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PLAN = REPO / "examples" / "plan.example.toml"
DEFAULT_CACHE = REPO / ".territory-sync" / "bench"
TENANT = "bench"
EDITION = "enterprise"
TARGETS_MODULE = "Forecast_Targets"
COUNTRIES = ("United Kingdom", "Germany", "France", "United States", "Canada", "Netherlands", "Japan")
_CALL_LINE = re.compile(r"connector\.transport: (GET|POST|PUT|PATCH|DELETE) (\S+) (\d{3}) \d+ms attempt=(\d+)")


# ── the org ─────────────────────────────────────────────────────────────────────────────────────


def cached_org(cache_dir: Path, seed: int, accounts: int) -> tuple[Path, float | None]:
    """The generated org's data directory (generated on first use); seconds spent generating it."""
    org = cache_dir / f"org-seed{seed}-{accounts}"
    if (org / ".complete").exists():
        return org, None
    if org.exists():
        shutil.rmtree(org)
    started = time.perf_counter()
    with start_sandbox(org, accounts=accounts, seed=seed, edition=EDITION):
        pass
    (org / ".complete").write_text("generated\n", encoding="utf-8")
    return org, time.perf_counter() - started


def client_for(sb: Sandbox) -> ZohoClient:
    c = sb.credentials
    return ZohoClient(
        ClientConfig(api_domain=sb.api_domain, accounts_url=sb.accounts_url, client_id=c.client_id,
                     client_secret=c.client_secret, refresh_token=c.refresh_token,
                     concurrency=EDITION_CONCURRENCY[EDITION]),
        token_store=TokenStore(),
    )


def modify_accounts(sb: Sandbox, share: float, seed: int) -> int:
    """Move ``share`` of the accounts to another country through the API; how many were changed."""
    with client_for(sb) as client:
        rows = [(r["id"], r.get("Billing_Country")) for r in client.records("Accounts", ["Billing_Country"])]
        rng = random.Random(seed)
        chosen = rng.sample(rows, max(1, round(len(rows) * share)))
        updates = [
            {"id": rid, "Billing_Country": next(c for c in rng.sample(COUNTRIES, 2) if c != country)}
            for rid, country in chosen
        ]
        results = client.update_records("Accounts", updates)
    failed = [r for r in results if not isinstance(r, Applied)]
    if failed:
        raise RuntimeError(f"{len(failed)} account updates were not applied, e.g. {failed[0]}")
    return len(updates)


def crm_counts(sb: Sandbox, plan: TerritoryPlan, since: datetime | None = None) -> dict[str, int]:
    """Record counts the fewest-calls figure needs, read through the API (latency off meanwhile);
    ``*_modified``: records modified at or after ``since`` (what an incremental pull must read)."""
    with client_for(sb) as client:
        users = sum(1 for _ in client.users())
        territories = list(client.territories(include=()))
        members = {t.id: sum(1 for _ in client.territory_users(t.id)) for t in territories}
        shared = _shared_territory_ids(plan, territories)
        accounts = covered = accounts_modified = 0
        for rec in client.records("Accounts", ["Territories", "Modified_Time"]):
            accounts += 1
            accounts_modified += _modified_since(rec, since)
            if any(str(t.get("id")) in shared for t in rec.get("Territories") or []):
                covered += 1
        deals = deals_modified = 0
        for deal in _records(client, sb, "Deals", ["Deal_Name", "Modified_Time"]):
            deals += 1
            deals_modified += _modified_since(deal, since)
        targets = sum(1 for _ in _records(client, sb, TARGETS_MODULE, ["Name"]))
        # Past the ceiling, Bulk Read's CSV has no territory field: the territories of the records
        # are read page by page per territory (``territory_id``), at least one call per territory.
        territory_pages = {
            module: sum(_pages(sum(1 for _ in client.records(module, [field], territory_id=t.id))) for t in territories)
            for module, field, n in (("Accounts", "Territories", accounts), ("Deals", "Territory", deals))
            if n > PAGED_READ_CEILING
        }
    return {
        "users": users,
        "territories": len(territories),
        "member_pages": sum(max(1, math.ceil(n / MAX_PAGE_SIZE)) for n in members.values()),
        "accounts": accounts,
        "deals": deals,
        "targets": targets,
        "accounts_shared": covered,
        "accounts_modified": accounts_modified,
        "deals_modified": deals_modified,
        **{f"{module.lower()}_territory_pages": n for module, n in territory_pages.items()},
    }


def _records(client: ZohoClient, sb: Sandbox, module: str, fields: list[str]) -> Iterable[Mapping[str, Any]]:
    """Every record of a module: paged, or with Bulk Read past Zoho's 100,000-record ceiling."""
    if sb.store.count_records(module) > PAGED_READ_CEILING:
        return client.bulk.read(module, fields)
    return client.records(module, fields)


def _modified_since(record: Mapping[str, Any], since: datetime | None) -> bool:
    stamp = record.get("Modified_Time")
    return since is not None and isinstance(stamp, str) and datetime.fromisoformat(stamp) >= since


def _shared_territory_ids(plan: TerritoryPlan, territories: Sequence[Any]) -> set[str]:
    """CRM ids of the territories whose accounts a sharing rule covers (and, with parent
    visibility, of every territory below them)."""
    by_name = {t.name.lower(): t.id for t in territories}
    roots = {by_name[plan.territories[r.territory].name.lower()] for r in plan.sharing
             if plan.territories[r.territory].name.lower() in by_name}
    if not plan.settings.parent_visibility:
        return roots
    children: dict[str, list[str]] = {}
    for t in territories:
        if t.parent_id:
            children.setdefault(t.parent_id, []).append(t.id)
    out, todo = set(), list(roots)
    while todo:
        tid = todo.pop()
        if tid not in out:
            out.add(tid)
            todo += children.get(tid, [])
    return out


# ── the fewest calls ────────────────────────────────────────────────────────────────────────────


def _pages(n: int) -> int:
    return max(1, math.ceil(n / MAX_PAGE_SIZE))


def min_reads(counts: Mapping[str, int], *, incremental: bool) -> dict[str, int]:
    """Reads no pull can do without: everything at 200 per page (in an incremental pull only the
    Accounts and Deals modified since the last pull — the connector's own writes included, since
    they move ``Modified_Time`` too), members per territory, one share call per covered account.
    Past Zoho's 100,000-record ceiling a module takes a Bulk Read (create, poll, download: 3) plus
    its records' territories read per territory (Bulk Read's CSV has no territory field)."""
    def records(module: str) -> int:
        n = counts[f"{module}_modified"] if incremental else counts[module]
        if n > PAGED_READ_CEILING:
            return 3 + counts[f"{module}_territory_pages"]
        return _pages(n)

    return {
        "current_user": 1,
        "users": _pages(counts["users"]),
        "territories": _pages(counts["territories"]),
        "members": counts["member_pages"],
        "fields": 3,  # Accounts, Deals, the targets module
        "records:Accounts": records("accounts"),
        "records:Deals": records("deals"),
        f"records:{TARGETS_MODULE}": _pages(counts["targets"]),
        "share_reads": counts["accounts_shared"],
    }


def min_writes(changes: Iterable[ChangeRow], plan: TerritoryPlan) -> dict[str, int]:
    """Write calls for the change set at Zoho's per-call limits (see the module docstring)."""
    by_kind: dict[str, list[ChangeRow]] = {}
    for c in changes:
        by_kind.setdefault(c.kind, []).append(c)
    out: dict[str, int] = {}
    created = {c.territory_key for c in by_kind.get("territory.create", [])}
    creates = Counter(_depth(plan, c.territory_key, created) for c in by_kind.get("territory.create", []))
    out["territory.create"] = sum(math.ceil(n / MAX_TERRITORIES_PER_WRITE) for n in creates.values())
    for kind in ("territory.update", "territory.delete"):
        out[kind] = math.ceil(len(by_kind.get(kind, [])) / MAX_TERRITORIES_PER_WRITE)
    for kind in ("member.add", "member.remove"):
        per_territory = Counter(c.territory_id or c.territory_key for c in by_kind.get(kind, []))
        out[kind] = sum(math.ceil(n / MAX_USERS_PER_WRITE) for n in per_territory.values())
    for kind in ("assignment.add", "assignment.remove"):
        per_module: dict[str | None, set[str | None]] = {}
        for c in by_kind.get(kind, []):
            per_module.setdefault(c.module, set()).add(c.record_id)
        out[kind] = sum(math.ceil(len(ids) / MAX_RECORDS_PER_WRITE) for ids in per_module.values())
    for kind in ("share.grant", "share.update", "share.revoke"):
        out[kind] = len({c.record_id for c in by_kind.get(kind, [])})
    out["target.upsert"] = math.ceil(len(by_kind.get("target.upsert", [])) / MAX_RECORDS_PER_WRITE)
    return {k: v for k, v in out.items() if v}


def _depth(plan: TerritoryPlan, key: str | None, created: set[str | None]) -> int:
    """1 + how many of the territory's ancestors are created in the same run (and so must be
    created in an earlier call); a parent the CRM has already does not count."""
    depth = 0
    while key is not None and key in created and key in plan.territories:
        key = plan.territories[key].parent
        depth += 1
    return depth


_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (\S+): (.*)$", re.MULTILINE)


def phases(stderr: str) -> dict[str, float]:
    """Seconds from the first log line to the end of the pull, to the start of apply, and of apply,
    from the run's own log lines (``jobs.sync.pull``'s "pulled …", ``jobs.sync.apply``'s "applying …",
    ``jobs.sync.run``'s "run … for …")."""
    marks: dict[str, datetime] = {}
    first: datetime | None = None
    for stamp, logger, message in _LOG_TIME.findall(stderr):
        moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        first = first or moment
        if logger == "jobs.sync.pull" and message.startswith("pulled "):
            marks["pulled"] = moment
        elif logger == "jobs.sync.apply" and message.startswith("applying "):
            marks["applying"] = moment
        elif logger == "jobs.sync.run" and message.startswith("run "):
            marks["finished"] = moment
    if first is None:
        return {}
    out: dict[str, float] = {}
    if "pulled" in marks:  # keys end in _s: medians like every other figure
        out["pull_s"] = (marks["pulled"] - first).total_seconds()
    if "pulled" in marks and "applying" in marks:
        out["plan_s"] = (marks["applying"] - marks["pulled"]).total_seconds()
    if "applying" in marks and "finished" in marks:
        out["apply_s"] = (marks["finished"] - marks["applying"]).total_seconds()
    return {k: round(v, 2) for k, v in out.items()}


def used_calls(stderr: str) -> Counter[str]:
    """The sync's CRM calls by purpose, from the client's one log line per HTTP call."""
    used: Counter[str] = Counter()
    for method, path, _status, _attempt in _CALL_LINE.findall(stderr):
        used[_purpose(method, path)] += 1
    return used


def _purpose(method: str, path: str) -> str:
    bare, _, query = path.partition("?")
    parts = [p for p in bare.split("/") if p]
    if "oauth" in parts:
        return "token"
    if parts[:2] == ["crm", "bulk"]:
        return "bulk_read"
    rest = parts[2:]  # after crm/v8
    if rest[:1] == ["users"]:
        return "current_user" if "CurrentUser" in query else "users"
    if rest[:2] == ["settings", "fields"]:
        return "fields"
    if rest[:2] == ["settings", "territories"]:
        if len(rest) >= 4 and rest[3] == "users":
            return "members" if method == "GET" else ("member.add" if method == "PUT" else "member.remove")
        if method == "GET":
            return "territories"
        return {"POST": "territory.create", "PUT": "territory.update", "DELETE": "territory.delete"}[method] \
            if "transfer_and_delete" not in rest else "territory.delete"
    if rest[-2:] == ["actions", "share"]:
        return "share_reads" if method == "GET" else {"POST": "share.grant", "PUT": "share.update"}.get(method, "share.revoke")
    if rest[-1:] in (["assign_territories"], ["remove_territories"]):
        return "assignment.add" if rest[-1] == "assign_territories" else "assignment.remove"
    if rest[-1:] == ["upsert"]:
        return "target.upsert"
    if method == "GET" and rest:
        return f"records:{rest[0]}"
    return f"{method} {'/'.join(rest)}"


# ── one run ─────────────────────────────────────────────────────────────────────────────────────


def write_config(work: Path, sb: Sandbox, plan: Path) -> Path:
    path = work / "config.toml"
    path.write_text(
        f"""[storage]
state_dir = "state"

[tenants.{TENANT}]
plan = "{plan}"
edition = "{EDITION}"

[tenants.{TENANT}.crm]
api_domain = "{sb.api_domain}"
accounts_url = "{sb.accounts_url}"

[tenants.{TENANT}.guardrails]
max_accounts_changing = 1.0
max_removals = 1000000
min_credits_left = 0
""",
        encoding="utf-8",
    )
    return path


def run_sync_process(config: Path, sb: Sandbox, work: Path, label: str) -> dict[str, Any]:
    """``territory-sync sync --yes --json`` in a child process: its report, stderr, wall time, peak RSS."""
    prefix = f"TERRITORY_SYNC_TENANTS__{TENANT.upper()}__CREDENTIALS__"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        f"{prefix}CLIENT_ID": sb.credentials.client_id,
        f"{prefix}CLIENT_SECRET": sb.credentials.client_secret,
        f"{prefix}REFRESH_TOKEN": sb.credentials.refresh_token,
    }
    out_path, err_path = work / f"{label}.stdout", work / f"{label}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "sync", "-v", "--yes", "--json", "--config", str(config)],
            cwd=REPO, env=env, stdout=out, stderr=err,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8")
    stderr = err_path.read_text(encoding="utf-8")
    if proc.returncode not in (0, 1) or not stdout.strip():
        raise RuntimeError(f"{label} sync exited {proc.returncode}:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    return {
        "report": json.loads(stdout),
        "stderr": stderr,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "exit": proc.returncode,
    }


def measure_run(
    label: str, config: Path, sb: Sandbox, work: Path, plan: TerritoryPlan, latency_ms: float,
    concurrency: int, since: datetime | None,
) -> dict[str, Any]:
    faults = sb.admin.faults
    sb.admin.set_faults(FaultOptions())
    before = crm_counts(sb, plan, since)  # what the pull will find
    sb.admin.set_faults(faults)
    result = run_sync_process(config, sb, work, label)
    sb.admin.set_faults(FaultOptions())
    after = crm_counts(sb, plan)  # shares: the accounts covered once the run is done
    sb.admin.set_faults(faults)
    report = result["report"]
    with Ledger.open(f"sqlite:///{work / 'state' / 'ledger.sqlite3'}") as ledger:
        changes = ledger.changes(int(report["run_id"]))
        row = ledger.run(int(report["run_id"]))
    run_s = (row.ended_at - row.started_at).total_seconds() if row is not None and row.ended_at else None
    used = used_calls(result["stderr"])
    token_calls = used.pop("token", 0)
    writes = min_writes(changes, plan)
    # A covered account needs one share call: a read, or (when a share changes) the write alone.
    share_written = len({c.record_id for c in changes if c.kind.startswith("share.")})
    covered = max(before["accounts_shared"], after["accounts_shared"])
    reads = min_reads({**before, "accounts_shared": max(0, covered - share_written)}, incremental=since is not None)
    calls = int(report["calls"])
    if sum(used.values()) != calls:
        raise RuntimeError(f"{label}: the client counted {calls} CRM calls but logged {sum(used.values())}; "
                           "has the per-call log line (connector.transport, -v) changed?")
    fewest = sum(reads.values()) + sum(writes.values())
    return {
        "run_id": report["run_id"],
        "started_at": row.started_at.isoformat() if row is not None else None,
        "status": report["status"],
        "full_pull": report["full_pull"],
        "changes": len(changes),
        "changes_by_kind": dict(sorted(Counter(c.kind for c in changes).items())),
        "outcomes": dict(sorted(Counter(c.status for c in changes).items())),
        "calls": calls,
        "token_calls": token_calls,
        "calls_by_purpose": dict(sorted(used.items())),
        "min_calls": fewest,
        "min_calls_by_purpose": dict(sorted({**reads, **writes}.items())),
        "calls_over_min": round(calls / fewest, 3) if fewest else None,
        "wall_s": round(result["wall_s"], 2),
        "run_s": round(run_s, 2) if run_s is not None else None,
        "lower_bound_s": round(calls * latency_ms / 1000 / concurrency, 2),
        "min_calls_lower_bound_s": round(fewest * latency_ms / 1000 / concurrency, 2),
        # Pages of one module follow each other (page tokens): at best the longest chain of them.
        "lower_bound_paging_s": round(max(
            calls / concurrency, max((n for k, n in used.items() if k.startswith("records:")), default=0)
        ) * latency_ms / 1000, 2),
        **phases(result["stderr"]),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "crm": before,
    }


def one_repetition(org: Path, plan_path: Path, plan: TerritoryPlan, args: argparse.Namespace, r: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tempfile.mkdtemp(prefix="bench-sync-keep-")) if args.keep else Path(tmp)
        shutil.copytree(org, work / "sandbox")
        concurrency = EDITION_CONCURRENCY[EDITION]
        faults = FaultOptions(latency_ms=args.latency_ms)
        with start_sandbox(work / "sandbox", accounts=args.accounts, seed=args.seed, edition=EDITION,
                           faults=faults) as sb:
            config = write_config(work, sb, plan_path)
            full = measure_run("full", config, sb, work, plan, args.latency_ms, concurrency, None)
            sb.admin.set_faults(FaultOptions())
            moved = modify_accounts(sb, args.modify_share, args.seed + r)
            sb.admin.set_faults(faults)
            incremental = measure_run("incremental", config, sb, work, plan, args.latency_ms, concurrency,
                                      datetime.fromisoformat(full["started_at"]))
            incremental["accounts_edited_before_run"] = moved
    for run in (full, incremental):
        del run["run_id"], run["started_at"]
    if args.keep:
        full["work_dir"] = incremental["work_dir"] = str(work)
    return {"full": full, "incremental": incremental}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers: the median over the runs (with the raw values when more than one); the rest as in the first."""
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [r[key] for r in runs]
        if isinstance(first, (int, float)) and not isinstance(first, bool) and all(v is not None for v in values):
            out[key] = statistics.median(values)
            if len(runs) > 1:
                out[f"{key}_runs"] = values
        else:
            out[key] = first
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000,
                        help=f"accounts in the demo org (default and most: {PAGED_READ_CEILING:,})")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency the sandbox adds to every CRM call")
    parser.add_argument("--repeat", type=int, default=1, help="fresh copies of the org to run on (medians)")
    parser.add_argument("--modify-share", type=float, default=0.01, help="share of accounts changed before the second run")
    parser.add_argument("--seed", type=int, default=7, help="demo org seed (the example plan fits seed 7)")
    parser.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="the territory plan")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's folder (config, ledger, sandbox copy, the syncs' logs)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where generated orgs are kept")
    args = parser.parse_args(argv)
    if not 100 <= args.accounts <= PAGED_READ_CEILING:
        parser.error(f"--accounts must be between 100 and {PAGED_READ_CEILING:,} (the bench reads every "
                     "account's territories page by page to count the accounts sharing rules cover)")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    plan_path = args.plan.resolve()
    plan = load_plan(plan_path)
    org, generated_s = cached_org(args.cache_dir, args.seed, args.accounts)
    runs = [one_repetition(org, plan_path, plan, args, r) for r in range(args.repeat)]
    print(json.dumps({
        "benchmark": "territory-sync sync against the sandbox (child process per run)",
        "accounts": args.accounts,
        "seed": args.seed,
        "plan": str(plan_path.relative_to(REPO) if plan_path.is_relative_to(REPO) else plan_path),
        "latency_ms": args.latency_ms,
        "concurrency": EDITION_CONCURRENCY[EDITION],
        "repeat": args.repeat,
        "org_generated_s": round(generated_s, 1) if generated_s is not None else "cached",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "full": _median([r["full"] for r in runs]),
        "incremental": _median([r["incremental"] for r in runs]),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
