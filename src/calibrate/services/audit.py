"""The audit log and the store's integrity check (``calibrate audit``, ``calibrate verify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calibrate.access import Actor, require
from calibrate.store.audit import Event, Verification, read_events, verify_store

if TYPE_CHECKING:
    from sqlalchemy import Engine


def audit_log(
    *, engine: Engine, actor: Actor, limit: int | None = 200, action: str | None = None
) -> list[Event]:
    """Audit events, newest first: every one for the operator; those about their issuers for an
    administrator or a board reviewer (the granted issuers).

    Raises
    ------
    AccessDenied
        An assessor or lead assessor.
    """
    require(actor, "audit.read")
    return read_events(engine, issuers=actor.issuers, limit=limit, action=action)


def verify(*, engine: Engine, actor: Actor, expect: str | None = None) -> Verification:
    """Check the store's integrity (:func:`calibrate.store.audit.verify_store`): the audit
    log's hash chain (and the head ``expect`` = ``SEQ:HASH`` recorded earlier), every rating
    against the seal that recorded it, revision chains, references.

    Raises
    ------
    AccessDenied
        An assessor or lead assessor.
    """
    require(actor, "store.verify")
    return verify_store(engine, expect=expect)


__all__ = ["audit_log", "verify"]
