"""The sync pipeline, one module per stage: pull → diff → guardrails → apply, driven by ``run``.

``run_data`` holds the values passed between the stages; ``crm`` opens a tenant's CRM; ``settle``
judges what a killed run left pending from the next run's snapshot.
"""
