"""The audit log: append-only, hash-chained, and the seals that tie stored ratings to it.

Every administrative write (definitions and rating imports, corrections, account changes,
grants, exports) appends one :class:`~calibrate.store.models.AuditEvent` in the same transaction
as the change it records. Event ``n`` carries ``hash = SHA-256(hash of event n-1 | canonical
content of event n)``, a hash chain (Haber & Stornetta 1991; the construction of RFC 6962's
Merkle audit logs in its simplest, linear form): editing, removing or reordering an event breaks
every hash after it, and rewriting the whole chain changes the head a board recorded
(``calibrate verify --expect SEQ:HASH``). A write of ratings also seals them: the event holds
the SHA-256 of the rows it wrote, so an edited rating no longer matches its seal. Triggers
refuse updates and deletes of ratings and events (migration 0004); the seals and the chain find
what someone with the database owner's rights did anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from calibrate.store import models as m
from calibrate.store.bulk import micros
from calibrate.store.engine import reading

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event."""

_EVENT = m.AuditEvent.__table__  # type: ignore[attr-defined]
_RATING = m.Rating.__table__  # type: ignore[attr-defined]
SEALED = (
    "id",
    "assessor_id",
    "submission_id",
    "anchor_id",
    "criterion_id",
    "calibration_attempt_id",
    "score",
    "context",
    "rated_at",
    "revision",
    "supersedes_id",
    "reason",
    "recorded_by",
    "recorded_at",
    "import_batch_id",
)
"""The rating columns a seal covers: all of them."""


def utc_text(moment: datetime | None) -> str | None:
    """A time as canonical text (UTC, microseconds, ``Z``); a naive time is taken as UTC
    (SQLite hands back naive times)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    issuer: str | None,
    subject: str,
    detail: str,
) -> str:
    """SHA-256 of the previous hash and the event's canonical JSON content."""
    content = json.dumps(
        [seq, utc_text(at), actor, action, issuer, subject, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}|{content}".encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    """One audit event as read back (``detail`` decoded)."""

    seq: int
    at: datetime
    actor: str
    action: str
    issuer: str | None
    subject: str
    detail: dict[str, Any]
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": utc_text(self.at),
            "actor": self.actor,
            "action": self.action,
            "issuer": self.issuer,
            "subject": self.subject,
            "detail": self.detail,
            "hash": self.hash,
        }


def append_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    issuer: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Event:
    """Append an event in the caller's write transaction (which holds the writer lock, so the
    chain has one next link)."""
    last = conn.execute(
        sa.select(_EVENT.c.seq, _EVENT.c.hash).order_by(_EVENT.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    at = datetime.now(UTC)
    text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = event_hash(prev, seq, at, actor, action, issuer, subject, text)
    conn.execute(
        _EVENT.insert(),
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "issuer": issuer,
            "subject": subject,
            "detail": text,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return Event(seq, at, actor, action, issuer, subject, detail or {}, digest)


def _digest(rows: Iterable[Iterable[Any]]) -> tuple[int, str]:
    """Count and SHA-256 of rows of integers, NULLs and text, each row as the ``repr`` of its
    tuple (text quoted and escaped, so no character inside it can shift the fields)."""
    h = hashlib.sha256()
    n = 0
    for row in rows:
        h.update(repr(tuple(row)).encode())
        h.update(b"\n")
        n += 1
    return n, h.hexdigest()


def _sealed_columns(conn: Connection) -> list[Any]:
    """The sealed columns in SQL, times as whole microseconds since 1970 UTC (one value on both
    backends, whatever text SQLite holds)."""
    return [
        micros(conn, _RATING.c[c]) if c in ("rated_at", "recorded_at") else _RATING.c[c]
        for c in SEALED
    ]


def seal_ratings(
    conn: Connection, *, batch: int | None = None, ids: list[int] | None = None
) -> dict[str, Any]:
    """The seal of the ratings of an import ``batch`` or of the rating ``ids``: their count and
    the SHA-256 of their rows (every column, in id order)."""
    query = sa.select(*_sealed_columns(conn)).order_by(_RATING.c.id)
    if batch is not None:
        query = query.where(_RATING.c.import_batch_id == batch)
        where: dict[str, Any] = {"batch": batch}
    else:
        query = query.where(_RATING.c.id.in_(ids or []))
        where = {"ids": sorted(ids or [])}
    n, digest = _digest(conn.execute(query))
    return {**where, "n": n, "sha256": digest}


def read_events(
    engine: Engine,
    *,
    issuers: Iterable[str] | None = None,
    limit: int | None = None,
    action: str | None = None,
) -> list[Event]:
    """Events, newest first; ``issuers`` narrows to events about those issuers."""
    query = sa.select(_EVENT).order_by(_EVENT.c.seq.desc())
    if issuers is not None:
        query = query.where(_EVENT.c.issuer.in_(list(issuers)))
    if action is not None:
        query = query.where(_EVENT.c.action == action)
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as conn:
        return [_event(r) for r in conn.execute(query).mappings()]


def _event(r: Any) -> Event:
    try:
        detail = json.loads(r["detail"])
    except ValueError:
        detail = {"unreadable": r["detail"]}
    return Event(
        int(r["seq"]),
        r["at"],
        r["actor"],
        r["action"],
        r["issuer"],
        r["subject"],
        detail,
        r["hash"],
    )


@dataclass(frozen=True)
class Verification:
    """What ``calibrate verify`` found.

    Attributes
    ----------
    problems : list of str
        Each broken rule, in words (empty: the store holds together).
    events : int
        Audit events checked.
    ratings : int
        Ratings checked against their seals.
    head : str or None
        ``SEQ:HASH`` of the last event: record it, and a later ``--expect`` shows that nothing
        before it was rewritten.
    """

    problems: list[str] = field(default_factory=list)
    events: int = 0
    ratings: int = 0
    head: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "events": self.events,
            "ratings": self.ratings,
            "head": self.head,
        }


def verify_store(engine: Engine, *, expect: str | None = None) -> Verification:
    """Check the store's integrity: the audit chain unbroken (and holding ``expect`` =
    ``SEQ:HASH`` when given), every rating matching the seal that recorded it and every rating
    recorded, revision chains complete, no rating without its rubric version, no orphan."""
    problems: list[str] = []
    with reading(engine) as conn:
        events, head, sealed = _check_chain(conn, problems, expect)
        n_ratings = _check_seals(conn, sealed, problems)
        _check_revisions(conn, problems)
        _check_references(conn, problems)
    return Verification(problems, events, n_ratings, head)


def _check_chain(
    conn: Connection, problems: list[str], expect: str | None
) -> tuple[int, str | None, list[dict[str, Any]]]:
    prev, expected_seq = GENESIS, 1
    sealed: list[dict[str, Any]] = []
    n = 0
    head = None
    hashes: dict[int, str] = {}
    for r in conn.execute(sa.select(_EVENT).order_by(_EVENT.c.seq)).mappings():
        n += 1
        seq = int(r["seq"])
        if seq != expected_seq:
            problems.append(
                f"audit log: event {expected_seq} is missing (the next is {seq}): events were "
                "removed"
            )
        if r["prev_hash"] != prev:
            problems.append(
                f"audit log: event {seq} does not follow event {seq - 1} (its prev_hash differs "
                "from that event's hash): the log was edited"
            )
        digest = event_hash(
            r["prev_hash"],
            seq,
            r["at"],
            r["actor"],
            r["action"],
            r["issuer"],
            r["subject"],
            r["detail"],
        )
        if digest != r["hash"]:
            problems.append(
                f"audit log: event {seq} ({r['action']}) was edited after it was written (its "
                "content no longer gives its hash)"
            )
        try:
            detail = json.loads(r["detail"])
        except ValueError:
            detail = {}
        seals = detail.get("ratings") if isinstance(detail, dict) else None
        if isinstance(seals, list):
            sealed.extend({**s, "seq": seq} for s in seals if isinstance(s, dict))
        prev, expected_seq = r["hash"], seq + 1
        hashes[seq] = r["hash"]
        head = f"{seq}:{r['hash']}"
    if expect is not None:
        seq_text, _, want = expect.partition(":")
        if not seq_text.isdigit() or len(want) != 64:
            problems.append(f"--expect {expect!r} is not SEQ:HASH (a head printed by verify)")
        elif hashes.get(int(seq_text)) != want:
            problems.append(
                f"audit log: event {seq_text} is not the one recorded ({want[:12]}...): the log "
                "was rewritten since that head was taken"
            )
    return n, head, sealed


def _check_seals(conn: Connection, sealed: list[dict[str, Any]], problems: list[str]) -> int:
    """Every rating row under exactly the seal that wrote it, and every seal still matching."""
    covered_batches: dict[int, dict[str, Any]] = {}
    covered_ids: set[int] = set()
    for seal in sealed:
        if "batch" in seal:
            covered_batches[int(seal["batch"])] = seal
            ids: list[int] = []
        else:
            ids = [int(i) for i in seal.get("ids", [])]
            covered_ids.update(ids)
        rows = _sealed_rows(conn, seal.get("batch"), ids)
        n, digest = _digest(rows)
        if (n, digest) != (seal.get("n"), seal.get("sha256")):
            what = f"import batch {seal['batch']}" if "batch" in seal else f"ratings {ids}"
            problems.append(
                f"ratings: {what} no longer match(es) what audit event {seal['seq']} sealed "
                f"({seal.get('n')} rows then, {n} now): a rating was "
                "edited, added or removed outside calibrate"
            )
    total = 0
    query = sa.select(_RATING.c.id, _RATING.c.import_batch_id).order_by(_RATING.c.id)
    unsealed: list[int] = []
    for rid, batch in conn.execute(query):
        total += 1
        if (batch is None or int(batch) not in covered_batches) and int(rid) not in covered_ids:
            unsealed.append(int(rid))
    if unsealed:
        shown = ", ".join(map(str, unsealed[:10])) + (" ..." if len(unsealed) > 10 else "")
        problems.append(
            f"ratings: {len(unsealed)} rating(s) not recorded in the audit log (ids {shown}): "
            "written outside calibrate"
        )
    return total


def _sealed_rows(conn: Connection, batch: int | None, ids: list[int]) -> Iterator[Any]:
    query = sa.select(*_sealed_columns(conn)).order_by(_RATING.c.id)
    if batch is not None:
        query = query.where(_RATING.c.import_batch_id == int(batch))
    else:
        query = query.where(_RATING.c.id.in_(ids))
    yield from conn.execute(query)


def _check_revisions(conn: Connection, problems: list[str]) -> None:
    new, old = _RATING.alias("new"), _RATING.alias("old")
    identity = ("assessor_id", "submission_id", "anchor_id", "criterion_id")
    same = sa.and_(
        *(new.c[c].is_not_distinct_from(old.c[c]) for c in identity),
        new.c.calibration_attempt_id.is_not_distinct_from(old.c.calibration_attempt_id),
        new.c.revision == old.c.revision + 1,
    )
    broken = conn.execute(
        sa.select(new.c.id, new.c.supersedes_id)
        .join(old, old.c.id == new.c.supersedes_id)
        .where(sa.not_(same))
    ).all()
    for rid, sid in broken[:20]:
        problems.append(
            f"revisions: rating {rid} supersedes rating {sid} but is not its next revision of "
            "the same assessor, target and criterion"
        )
    first_with_parent = (
        conn.execute(
            sa.select(_RATING.c.id).where(
                sa.or_(
                    sa.and_(_RATING.c.revision == 1, _RATING.c.supersedes_id.is_not(None)),
                    sa.and_(_RATING.c.revision > 1, _RATING.c.supersedes_id.is_(None)),
                )
            )
        )
        .scalars()
        .all()
    )
    for rid in first_with_parent[:20]:
        problems.append(
            f"revisions: rating {rid}'s revision number and the rating it supersedes disagree "
            "(a chain with a missing link)"
        )
    unexplained = (
        conn.execute(
            sa.select(_RATING.c.id).where(
                _RATING.c.revision > 1,
                sa.or_(_RATING.c.reason.is_(None), sa.func.trim(_RATING.c.reason) == ""),
            )
        )
        .scalars()
        .all()
    )
    for rid in unexplained[:20]:
        problems.append(f"revisions: rating {rid} corrects a score without a reason")


def _check_references(conn: Connection, problems: list[str]) -> None:
    """Orphans and ratings without their rubric version, checked by joins (SQLite enforces
    foreign keys only when a connection turns them on)."""
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    checks: list[tuple[str, Any, Any, Any]] = []
    for model, column, parent in (
        (m.Rating, "assessor_id", m.Assessor),
        (m.Rating, "criterion_id", m.Criterion),
        (m.Rating, "submission_id", m.Submission),
        (m.Rating, "anchor_id", m.Anchor),
        (m.Rating, "calibration_attempt_id", m.CalibrationAttempt),
        (m.Rating, "import_batch_id", m.ImportBatch),
        (m.Criterion, "rubric_version_id", m.RubricVersion),
        (m.Level, "rubric_version_id", m.RubricVersion),
        (m.Anchor, "anchor_set_id", m.AnchorSet),
        (m.AnchorScore, "anchor_id", m.Anchor),
        (m.Submission, "rubric_version_id", m.RubricVersion),
        (m.Account, "issuer_id", m.Issuer),
    ):
        child_t = model.__table__  # type: ignore[union-attr]
        parent_t = parent.__table__  # type: ignore[union-attr]
        pk = next(iter(parent_t.primary_key.columns))
        checks.append((f"{child_t.name}.{column}", child_t, child_t.c[column], (parent_t, pk)))
    for name, child_t, col, (parent_t, pk) in checks:
        orphans = conn.execute(
            sa.select(sa.func.count())
            .select_from(child_t.outerjoin(parent_t, pk == col))
            .where(col.is_not(None), pk.is_(None))
        ).scalar_one()
        if orphans:
            problems.append(
                f"references: {orphans} row(s) of {name} point to a {parent_t.name} that does "
                "not exist"
            )
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    sub = m.Submission.__table__  # type: ignore[attr-defined]
    anchor = m.Anchor.__table__  # type: ignore[attr-defined]
    mismatched = conn.execute(
        sa.select(sa.func.count())
        .select_from(
            _RATING.join(crit, crit.c.id == _RATING.c.criterion_id)
            .outerjoin(sub, sub.c.id == _RATING.c.submission_id)
            .outerjoin(anchor, anchor.c.id == _RATING.c.anchor_id)
        )
        .where(
            sa.func.coalesce(sub.c.rubric_version_id, anchor.c.rubric_version_id)
            != crit.c.rubric_version_id
        )
    ).scalar_one()
    if mismatched:
        problems.append(
            f"references: {mismatched} rating(s) score a criterion of another rubric version "
            "than their submission's or anchor's"
        )
    ownerless = conn.execute(
        sa.select(rv.c.rubric_key, rv.c.version).where(rv.c.issuer_id.is_(None))
    ).all()
    for key, version in ownerless[:20]:
        problems.append(f"references: rubric {key}@{version} belongs to no issuer")
