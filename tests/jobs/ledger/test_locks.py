"""Tenant locks: one holder at a time, leases, dead holders, the context manager."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from jobs.ledger import Ledger, TenantBusyError
from tests.support.clock import Clock
from tests.support.ledger import T0

# ── tenant locks ──


def test_a_tenant_lock_has_one_holder_at_a_time(ledger: Ledger) -> None:
    """While one holder has a tenant's lock another is told who has it; other tenants are free."""
    assert ledger.try_lock("acme", "elsewhere:1:a", ttl_s=60) is None
    busy = ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60)
    assert busy is not None
    assert busy[0] == "elsewhere:1:a"
    assert ledger.try_lock("globex", "elsewhere:2:b", ttl_s=60) is None
    ledger.release_lock("acme", "elsewhere:1:a")
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is None
    assert ledger.lock_holder("acme") == ("elsewhere:2:b", T0)


def test_an_expired_lease_is_taken_over_and_a_renewed_one_is_not(ledger: Ledger, clock: Clock) -> None:
    """A holder on another machine keeps the lock by renewing it; once its lease runs out, another takes it."""
    assert ledger.try_lock("acme", "elsewhere:1:a", ttl_s=60) is None
    clock.advance(50)
    assert ledger.renew_lock("acme", "elsewhere:1:a", ttl_s=60)
    clock.advance(50)
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is not None  # renewed at +50 s: good until +110 s
    clock.advance(11)
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is None
    assert not ledger.renew_lock("acme", "elsewhere:1:a", ttl_s=60), "the old holder learns it lost the lock"


def test_a_lock_left_by_a_dead_process_of_this_machine_is_taken_over(ledger: Ledger) -> None:
    """A holder that is a process of this machine that no longer exists does not block, lease or not."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{proc.stdout.strip()}:x"
    assert ledger.try_lock("acme", dead, ttl_s=3600) is None
    assert ledger.try_lock("acme", f"{socket.gethostname()}:{os.getpid()}:y", ttl_s=3600) is None
    live = ledger.try_lock("acme", "elsewhere:9:z", ttl_s=3600)
    assert live is not None
    assert live[0].endswith(":y")


def test_tenant_lock_raises_busy_and_releases_on_exit(ledger: Ledger) -> None:
    """The context manager raises TenantBusyError naming the holder, and frees the lock when its block ends."""
    with ledger.tenant_lock("acme", ttl_s=60) as holder:
        with pytest.raises(TenantBusyError, match=r"tenant 'acme' is being synced by .* since"), ledger.tenant_lock(
            "acme", ttl_s=60
        ):
            pass
        current = ledger.lock_holder("acme")
        assert current is not None
        assert current[0] == holder
    assert ledger.lock_holder("acme") is None
