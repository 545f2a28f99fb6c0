"""Runs things: one sync of a tenant's CRM against its territory plan, and what surrounds it.

One run, stage by stage (``jobs/sync/``)::

    config.toml ─► settings.Settings
    CRM ─crm.open_crm─► ZohoClient ─pull─► Snapshot ─┐       (values of a run: sync/run_data.py)
    plan file ─► mappings.TerritoryPlan ─────────────┼─diff─► ChangeSet
    ledger (what we own, what a killed run left) ────┘  ▲ settle: pending changes judged from the snapshot
    ChangeSet ─guardrails─► blocked | approved ─apply─► [Outcome] ─► ledger + diff log + summary
                                                        (run.run_sync drives all of it)

The rooms::

    jobs/
    ├── settings.py    the config file and environment, validated (one Settings class)
    ├── errors.py      the jobs error tree
    ├── files.py       private state files, written atomically
    ├── ledger         every run and change, ownership, tenant locks, notifications (SQL)
    ├── migrations/    the ledger's schema versions (Alembic)
    ├── sync/          the pipeline: run_data, crm, pull, diff, guardrails, apply, settle, run
    ├── reports/       what a run leaves to read: summary (by territory, by user), difflog (JSONL)
    ├── ops/           running unattended: schedule (APScheduler), alerts (webhook, e-mail)
    ├── onboarding/    bringing a CRM in: connect (OAuth grant), importer (CRM → plan file),
    │                  doctor (checks before going live), needed_scopes (the OAuth scopes a sync needs)
    └── cli/           the ``territory-sync`` command: main, parser (the tree), one cmd_<command>.py
                       per command (sync and plan, runs, config, schedule, connect, doctor, import,
                       sandbox), exits (statuses), progress (bars)

Imports point one way: ``jobs`` uses ``mappings`` and ``connector``, never the reverse.
"""
