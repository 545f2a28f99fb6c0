"""Running unattended: the scheduler (one APScheduler process) and the alerts it sends."""
