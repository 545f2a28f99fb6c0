"""Runs things: settings, pull, diff, guardrails, apply, ledger, scheduler, CLI, reports."""
