"""Alerts recorded in the ledger."""

from __future__ import annotations

from jobs.ledger import Ledger


def test_notifications_are_recorded_per_run(ledger: Ledger) -> None:
    """Sent and failed alerts are stored with their channel, reasons and error, and read back per run."""
    run_id = ledger.start_run("acme", mode="full", dry_run=False, plan_digest="d")
    ledger.record_notification("acme", run_id, channel="webhook", target="https://hooks.example/x", reasons=["blocked"],
                               status="failed", attempts=5, error="HTTP 503")
    ledger.record_notification("acme", None, channel="email", target="ops@example.com", reasons=["failed"],
                               status="sent", attempts=1)
    rows = ledger.notifications(tenant="acme")
    assert [(n.channel, n.status, n.attempts, n.reasons, n.run_id) for n in rows] == [
        ("webhook", "failed", 5, ["blocked"], run_id), ("email", "sent", 1, ["failed"], None),
    ]
    assert [n.channel for n in ledger.notifications(run_id=run_id)] == ["webhook"]
