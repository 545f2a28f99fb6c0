"""The territory-sync command line: exit codes and what a person reads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import build_parser, main
from jobs.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "config.example.toml")


def test_sync_to_a_real_crm_needs_yes_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no terminal to confirm on, `sync` refuses to write to a real CRM unless given --yes."""
    for var, value in {"CLIENT_ID": "id", "CLIENT_SECRET": "sec", "REFRESH_TOKEN": "tok"}.items():
        monkeypatch.setenv(f"TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__{var}", value)
    (tmp_path / "c.toml").write_text('[tenants.acme]\nplan = "p.toml"\n[tenants.acme.crm]\ndata_centre = "EU"\n')
    assert main(["sync", "--config", str(tmp_path / "c.toml")]) == 2
    err = capsys.readouterr().err
    assert "is a real CRM and there is no terminal to confirm on: pass --yes" in err


def test_bad_config_is_one_error_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config mistake prints `InvalidConfigError: ...` with the key, not a traceback."""
    path = tmp_path / "c.toml"
    path.write_text('[tenants.demo]\nplan = "p"\n[tenants.demo.crm]\ndata_centre = "MARS"\n')
    assert main(["plan", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("InvalidConfigError: ")
    assert "tenants.demo.crm.data_centre" in err
    assert "Traceback" not in err


def test_config_check_describes_each_tenant_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config check` prints where each tenant's CRM is and whether credentials are set, never their values."""
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_ID", "id-123")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_SECRET", "very-secret")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__REFRESH_TOKEN", "1000.rt")
    (tmp_path / "p.toml").write_text('version = 1\n[territories.retail]\nname = "Retail"\naccounts = \'Industry == "Retail"\'\n')
    path = tmp_path / "c.toml"
    path.write_text('[tenants.acme]\nplan = "p.toml"\nedition = "free"\n[tenants.acme.crm]\ndata_centre = "JP"\n')
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "API https://www.zohoapis.jp, accounts https://accounts.zoho.jp" in out
    assert "free, 5 concurrent calls" in out
    assert "credentials  all set" in out
    assert "very-secret" not in out
    assert "1000.rt" not in out


def test_unknown_tenant_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for a tenant the config does not have names the ones it does have."""
    assert main(["config", "check", "--config", EXAMPLE, "--tenant", "nobody"]) == 2
    assert "no tenant 'nobody'; the config has: demo" in capsys.readouterr().err


def test_config_check_validates_each_tenants_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`config check` loads the tenant's plan file and prints every plan problem with its line; exit 2."""
    (tmp_path / "plan.toml").write_text(
        'version = 1\n[territories.uk]\nname = "UK"\nparent = "emeaa"\naccounts = "Billing_Country =="\n'
    )
    (tmp_path / "c.toml").write_text('[tenants.demo]\nplan = "plan.toml"\n[tenants.demo.crm]\nsandbox = true\n')
    assert main(["config", "check", "--config", str(tmp_path / "c.toml")]) == 2
    out = capsys.readouterr().out
    assert "plan check   PlanValidationError:" in out
    assert "plan.toml:4: territories.uk.parent: unknown parent" in out
    assert "plan.toml:5: territories.uk.accounts: cannot parse criteria" in out


def test_config_check_accepts_the_example_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped example config and plan pass `config check`."""
    assert main(["config", "check", "--config", EXAMPLE]) == 0
    assert "plan check   valid:" in capsys.readouterr().out


# ── Common options: the same before the subcommand, after it, or both ──────────────────────────


def two_configs(tmp_path: Path) -> tuple[Path, Path]:
    """``one.toml`` (tenant alpha, state in state-one) and ``two.toml`` (tenants alpha and beta,
    state in state-two), each real CRM tenant with credentials in a secret file; both ledgers
    hold one run per tenant, so `runs list` shows whose ledger and which tenant was read."""
    (tmp_path / "p.toml").write_text('version = 1\n[territories.retail]\nname = "Retail"\naccounts = \'Industry == "Retail"\'\n')
    for secret in ("client_id", "client_secret", "refresh_token"):
        (tmp_path / secret).write_text(f"{secret}-value\n")
    creds = 'client_id_file = "client_id"\nclient_secret_file = "client_secret"\nrefresh_token_file = "refresh_token"\n'

    def tenant(name: str) -> str:
        return f'[tenants.{name}]\nplan = "p.toml"\n[tenants.{name}.crm]\ndata_centre = "EU"\n[tenants.{name}.credentials]\n{creds}'

    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text('[storage]\nstate_dir = "state-one"\n' + tenant("alpha"))
    two.write_text('default_tenant = "alpha"\n[storage]\nstate_dir = "state-two"\n' + tenant("alpha") + tenant("beta"))
    for state, tenants in (("state-one", ("alpha",)), ("state-two", ("alpha", "beta"))):
        with Ledger.open(f"sqlite:///{tmp_path / state / 'ledger.sqlite3'}") as ledger:
            for name in tenants:
                run = ledger.start_run(name, mode="full", dry_run=True, plan_digest=f"{state}-{name}")
                ledger.finish_run(run, status="dry_run", calls=1, credits=1)
    return one, two


def listed(capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str]]:
    """(run id, tenant) of each run `runs list --json` printed."""
    return [(r["id"], r["tenant"]) for r in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{two}", "runs", "list", "--json"],
        ["runs", "--config", "{two}", "list", "--json"],
        ["runs", "list", "--json", "--config", "{two}"],
        ["--config", "{one}", "runs", "list", "--json", "--config", "{two}"],
    ],
    ids=["before", "between", "after", "both-last-wins"],
)
def test_config_counts_wherever_it_is_placed_for_runs_list(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--config` before, between or after `runs list` picks that config (the last one given wins)."""
    one, two = two_configs(tmp_path)
    assert main([a.format(one=one, two=two) for a in argv]) == 0
    assert listed(capsys) == [(1, "alpha")]  # two.toml's ledger (run 2 is beta's); one.toml's has only run 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "beta", "runs", "list", "--json", "--config", "{two}"],
        ["runs", "--tenant", "beta", "list", "--json", "--config", "{two}"],
        ["--config", "{two}", "runs", "list", "--json", "--tenant", "beta"],
        ["--tenant", "alpha", "--config", "{two}", "runs", "list", "--json", "--tenant", "beta"],
    ],
    ids=["before", "between", "after", "both-last-wins"],
)
def test_tenant_counts_wherever_it_is_placed_for_runs_list(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--tenant beta` anywhere on the line lists beta's runs, not the default tenant alpha's."""
    one, two = two_configs(tmp_path)
    assert main([a.format(one=one, two=two) for a in argv]) == 0
    assert listed(capsys) == [(2, "beta")]


@pytest.mark.parametrize(
    ("argv", "config", "tenant"),
    [
        (["--config", "{two}", "--tenant", "beta", "config", "check"], "two", "beta"),
        (["config", "--tenant", "beta", "check", "--config", "{two}"], "two", "beta"),
        (["config", "check", "--config", "{two}", "--tenant", "beta"], "two", "beta"),
        (["--config", "{two}", "--tenant", "beta", "config", "check", "--config", "{one}", "--tenant", "alpha"],
         "one", "alpha"),
    ],
    ids=["before", "between-and-after", "after", "both-last-wins"],
)
def test_config_and_tenant_count_wherever_they_are_placed_for_config_check(
    argv: list[str], config: str, tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config check` validates the config file and describes the tenant given, wherever the options are."""
    one, two = two_configs(tmp_path)
    assert main([a.format(one=one, two=two) for a in argv]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / (config + '.toml')}: valid; state in {tmp_path / ('state-' + config)}\n")
    assert [line for line in out.splitlines() if line.startswith("[")] == [f"[{tenant}]"]


def sandbox_configs(tmp_path: Path) -> Path:
    """``two.toml`` with sandbox tenants alpha (the default) and beta, 100 demo accounts each."""
    (tmp_path / "p.toml").write_text('version = 1\n[territories.retail]\nname = "Retail"\naccounts = \'Industry == "Retail"\'\n')
    text = 'default_tenant = "alpha"\n[storage]\nstate_dir = "state"\n'
    for name in ("alpha", "beta"):
        text += (f'[tenants.{name}]\nplan = "p.toml"\n[tenants.{name}.crm]\nsandbox = true\n'
                 f'[tenants.{name}.sandbox]\ndata_dir = "sb-{name}"\naccounts = 100\n')
    (tmp_path / "two.toml").write_text(text)
    return tmp_path / "two.toml"


def test_tenant_before_plan_and_config_after_it_act_on_that_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--tenant beta plan --config two.toml` (the issue's case) plans tenant beta from two.toml."""
    monkeypatch.chdir(tmp_path)  # the default config.example.toml would be found in the repo, not here
    two = sandbox_configs(tmp_path)
    assert main(["--tenant", "beta", "plan", "--config", str(two)]) == 0
    assert capsys.readouterr().out.startswith("dry run of tenant 'beta' (run 1, full pull): dry_run;")
    assert (tmp_path / "sb-beta").is_dir()
    assert not (tmp_path / "sb-alpha").exists()


def test_config_before_sync_is_the_config_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config two.toml sync --dry-run` (the issue's case) reads two.toml, not config.example.toml."""
    monkeypatch.chdir(tmp_path)
    two = sandbox_configs(tmp_path)
    assert main(["--config", str(two), "sync", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("dry run of tenant 'alpha' (run 1, full pull): dry_run;")
    assert (tmp_path / "sb-alpha").is_dir()
    assert (tmp_path / "state" / "ledger.sqlite3").is_file()


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["runs", "list"], 0),
        (["-v", "runs", "list"], 1),
        (["runs", "list", "-v"], 1),
        (["runs", "-v", "list"], 1),
        (["-v", "runs", "list", "-v"], 2),
        (["-v", "runs", "-v", "list", "-v"], 3),
        (["--verbose", "sync", "-vv"], 3),
        (["-v", "schedule", "-v", "list", "-v"], 3),
        (["-v", "doctor"], 1),
        (["-v", "sandbox", "serve", "-v"], 2),
    ],
)
def test_verbose_counts_add_up_across_positions(argv: list[str], verbose: int) -> None:
    """Each -v counts once wherever it is written: before, between or after the subcommands."""
    assert build_parser().parse_args(argv).verbose == verbose


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "list"], ["runs", "show", "1"], ["config", "check"], ["sync"], ["plan"], ["doctor"],
        ["connect"], ["import", "-o", "x.toml"], ["schedule"], ["schedule", "list"], ["sandbox", "serve"],
    ],
)
def test_every_subcommand_takes_the_common_options_after_it(argv: list[str]) -> None:
    """Every subcommand accepts --config and --tenant after it, with the same meaning as before it."""
    args = build_parser().parse_args([*argv, "--config", "c.toml", "--tenant", "beta"])
    assert (args.config, args.tenant) == (Path("c.toml"), "beta")
    args = build_parser().parse_args(["--config", "c.toml", "--tenant", "beta", *argv])
    assert (args.config, args.tenant) == (Path("c.toml"), "beta")
    args = build_parser().parse_args(argv)
    assert (args.config, args.tenant, args.verbose) == (Path("config.example.toml"), None, 0)


# ── A closed pipe ends the command quietly ───────────────────────────────────────────────────────


def run_into_closed_pipe(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the command in a real process whose stdout is a pipe already closed at the reading end
    (what `| head -1` leaves once head has exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-c", "import sys; from jobs.cli import main; sys.exit(main())", *argv],
            cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "list", "--json", "--config", "one.toml"],
        ["runs", "list", "--config", "one.toml"],
        ["runs", "show", "1", "--config", "one.toml"],
        ["runs", "show", "1", "--json", "--config", "one.toml"],
        ["config", "check", "--config", "one.toml"],
    ],
)
def test_a_closed_pipe_ends_the_command_quietly(argv: list[str], tmp_path: Path) -> None:
    """Output into a closed pipe ends the command with exit 141 (as SIGPIPE would) and no traceback."""
    two_configs(tmp_path)
    done = run_into_closed_pipe(argv, tmp_path)
    assert (done.returncode, done.stderr) == (141, "")


# ── Reading the ledger needs no credentials ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("argv", "out"),
    [
        (["runs", "list", "--tenant", "beta"], "run 2  beta  dry run  "),
        (["runs", "list", "--all-tenants"], "run 2  beta  dry run  "),
        (["runs", "show", "1"], "run 1  alpha  dry run  "),
    ],
)
def test_reading_the_ledger_needs_no_oauth_secrets(
    argv: list[str], out: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runs list` and `runs show` work for real CRM tenants with no client id, secret or refresh token set."""
    _, two = two_configs(tmp_path)
    text = two.read_text()
    for secret in ("client_id", "client_secret", "refresh_token"):
        text = text.replace(f'{secret}_file = "{secret}"\n', "")
    two.write_text(text)
    assert main(["plan", "--config", str(two)]) == 2  # what needs the CRM still asks for them
    assert "tenants.alpha.credentials: missing client_id, client_secret, refresh_token" in capsys.readouterr().err
    assert main([*argv, "--config", str(two)]) == 0
    captured = capsys.readouterr()
    assert (captured.out.startswith(out), captured.err) == (True, "")


def test_a_run_leaves_its_state_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `plan`, the state dir (0755 from an older version) is 0700, the ledger and the diff log 0600."""
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)
    try:
        two = sandbox_configs(tmp_path)
        (tmp_path / "state").mkdir(mode=0o755)
        assert main(["plan", "--config", str(two)]) == 0
    finally:
        os.umask(previous)
    state = tmp_path / "state"
    modes = {str(p.relative_to(state)): stat.S_IMODE(p.stat().st_mode) for p in [state, *state.rglob("*")]}
    assert {k: v for k, v in modes.items() if not k.startswith("ledger.sqlite3-")} == {
        ".": 0o700, "ledger.sqlite3": 0o600, "runs": 0o700, "runs/alpha": 0o700, "runs/alpha/run-1.jsonl": 0o600,
        "tokens.json": 0o600,
    }


def test_a_symlink_at_the_next_diff_log_stops_the_run_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link planted where the next run's diff log goes ends `plan` with exit 2 and one JobError line; its target is intact."""
    monkeypatch.chdir(tmp_path)
    two = sandbox_configs(tmp_path)
    (tmp_path / "state" / "runs" / "alpha").mkdir(parents=True)
    (tmp_path / "victim").write_text("keep\n")
    (tmp_path / "state" / "runs" / "alpha" / "run-1.jsonl").symlink_to(tmp_path / "victim")
    assert main(["plan", "--config", str(two)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"JobError: {tmp_path}/state/runs/alpha/run-1.jsonl is a symbolic link: refusing to write through it; "
        "remove it (the log is written there by this program only) and run again\n"
    )
    assert (tmp_path / "victim").read_text() == "keep\n"


def test_every_command_is_one_module_of_jobs_cli_registered_through_add_parser() -> None:
    """Each top-level command comes from one ``jobs/cli/cmd_*.py`` module's ``add_parser``, and every
    leaf of the tree has a handler."""
    import argparse

    from jobs.cli.parser import COMMANDS

    assert [m.__name__ for m in COMMANDS] == [
        "jobs.cli.cmd_sync", "jobs.cli.cmd_runs", "jobs.cli.cmd_config", "jobs.cli.cmd_schedule",
        "jobs.cli.cmd_connect", "jobs.cli.cmd_doctor", "jobs.cli.cmd_import", "jobs.cli.cmd_sandbox",
    ]
    commands: dict[str, list[str]] = {}
    for module in COMMANDS:
        sub = argparse.ArgumentParser().add_subparsers()
        module.add_parser(sub, argparse.ArgumentParser(add_help=False))
        commands[module.__name__] = sorted(sub.choices)
    assert commands == {
        "jobs.cli.cmd_sync": ["plan", "sync"], "jobs.cli.cmd_runs": ["runs"], "jobs.cli.cmd_config": ["config"],
        "jobs.cli.cmd_schedule": ["schedule"], "jobs.cli.cmd_connect": ["connect"],
        "jobs.cli.cmd_doctor": ["doctor"], "jobs.cli.cmd_import": ["import"], "jobs.cli.cmd_sandbox": ["sandbox"],
    }
    for argv in (["sync"], ["plan"], ["runs", "list"], ["runs", "show", "1"], ["config", "check"], ["schedule"],
                 ["schedule", "list"], ["connect"], ["doctor"], ["import", "-o", "x.toml"], ["sandbox", "serve"]):
        assert callable(build_parser().parse_args(argv).handler), argv
