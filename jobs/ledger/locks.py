"""Tenant locks: one run per tenant at a time, across processes and machines sharing the ledger."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from jobs.errors import LedgerError, TenantBusyError
from jobs.ledger.engine import utc
from jobs.ledger.schema import tenant_locks_table
from jobs.ledger.store import LedgerStore

log = logging.getLogger("jobs.ledger")  # one logger for the whole ledger package


class TenantLocks(LedgerStore):
    """The ``tenant_locks`` table: take, renew, release, hold for a block."""

    def try_lock(self, tenant: str, holder: str, *, ttl_s: float) -> tuple[str, datetime] | None:
        """Take the tenant's lock for ``holder`` until now + ``ttl_s``. None when taken; otherwise the
        current (holder, since). A lock whose holder let it expire, or whose holder is a process on
        this machine that no longer exists, is taken over (logged)."""
        now = self._now()
        expires = now + timedelta(seconds=ttl_s)
        t = tenant_locks_table
        try:
            with self._write("take a tenant lock") as conn:
                if conn.execute(select(t.c.tenant).where(t.c.tenant == tenant)).first() is None:
                    conn.execute(t.insert().values(tenant=tenant, holder=holder, acquired_at=now, expires_at=expires))
                    return None
        except LedgerError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Another process inserted the row between our read and our insert: it holds the lock.
        with self._write("take a tenant lock") as conn:
            row = conn.execute(select(t).where(t.c.tenant == tenant)).first()
            if row is None:  # released in the meantime: try again from the start
                return self.try_lock(tenant, holder, ttl_s=ttl_s)
            current, since, until = str(row.holder), utc(row.acquired_at), utc(row.expires_at)
            if current != holder and until > now and _holder_may_be_alive(current):
                return current, since
            if current != holder:
                why = "its lease expired" if until <= now else "that process is gone"
                log.warning("tenant %s: taking over the lock of %s (%s)", tenant, current, why)
            # Conditional on the row still being what we read: two takers cannot both win.
            taken = conn.execute(
                update(t)
                .where(t.c.tenant == tenant, t.c.holder == current, t.c.expires_at == row.expires_at)
                .values(holder=holder, acquired_at=now, expires_at=expires)
            ).rowcount
            return None if taken == 1 else (current, since)

    def renew_lock(self, tenant: str, holder: str, *, ttl_s: float) -> bool:
        """Extend ``holder``'s lease; False when the lock is no longer its own."""
        t = tenant_locks_table
        with self._write("renew a tenant lock") as conn:
            renewed = conn.execute(
                update(t)
                .where(t.c.tenant == tenant, t.c.holder == holder)
                .values(expires_at=self._now() + timedelta(seconds=ttl_s))
            ).rowcount
        return renewed == 1

    def release_lock(self, tenant: str, holder: str) -> None:
        t = tenant_locks_table
        with self._write("release a tenant lock") as conn:
            conn.execute(t.delete().where(t.c.tenant == tenant, t.c.holder == holder))

    def lock_holder(self, tenant: str) -> tuple[str, datetime] | None:
        """Who holds the tenant's lock, and since when (None: nobody)."""
        t = tenant_locks_table
        with self._engine.connect() as conn:
            row = conn.execute(select(t.c.holder, t.c.acquired_at).where(t.c.tenant == tenant)).first()
        return (str(row.holder), utc(row.acquired_at)) if row is not None else None

    @contextmanager
    def tenant_lock(self, tenant: str, *, ttl_s: float, holder: str | None = None) -> Iterator[str]:
        """Hold the tenant's lock for a ``with`` block, renewing it every ``ttl_s / 3`` seconds from
        a background thread; raises ``TenantBusyError`` when another holder has it."""
        holder = holder or lock_holder_id()
        busy = self.try_lock(tenant, holder, ttl_s=ttl_s)
        if busy is not None:
            raise TenantBusyError(tenant, *busy)
        done = threading.Event()

        def renew() -> None:
            while not done.wait(ttl_s / 3):
                try:
                    if not self.renew_lock(tenant, holder, ttl_s=ttl_s):
                        log.error("tenant %s: lost its lock to another process while running", tenant)
                        return
                except LedgerError as exc:
                    log.warning("tenant %s: could not renew its lock: %s", tenant, exc)

        renewer = threading.Thread(target=renew, name=f"lock-{tenant}", daemon=True)
        renewer.start()
        try:
            yield holder
        finally:
            done.set()
            renewer.join()
            self.release_lock(tenant, holder)


def lock_holder_id() -> str:
    """This process, as a lock holder: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_may_be_alive(holder: str) -> bool:
    """False only when the holder is a process of this machine that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: only its lease can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

