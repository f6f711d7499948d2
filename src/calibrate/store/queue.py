"""The live scoring queue in the store: submissions entered for scoring, assignments (live
readings and seeded validity anchors behind one kind of handle), final results and
suspensions. Connection-level, for :mod:`calibrate.services.queue` to compose in one
:func:`~calibrate.store.engine.writing` transaction (see :mod:`calibrate.store.scoring`).

Times are written as UTC; SQLite hands them back naive, so everything read is passed through
:func:`aware`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from calibrate.errors import StoreError
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.store import models as m
from calibrate.store.calibration import ATTEMPT, SUSPENSION, active_suspension
from calibrate.store.scoring import ANCHOR, ASSESSOR, CRITERION, ISSUER, RATING, RUBRIC_VERSION

SUBMISSION = m.Submission.__table__  # type: ignore[attr-defined]
EARNER = m.Earner.__table__  # type: ignore[attr-defined]
ASSIGNMENT = m.Assignment.__table__  # type: ignore[attr-defined]
RESULT = m.SubmissionResult.__table__  # type: ignore[attr-defined]

ARTIFACT_FIELDS = ("title", "description", "excerpt")
GIVEN_BACK = "given back: "
"""How the released reason of an assignment its assessor gave back begins."""
TIMED_OUT = "not scored within "
"""How the released reason of an assignment that ran out of time begins."""


def aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite returns naive UTC; PostgreSQL the
    session's zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _maybe(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


# --- rubric versions ------------------------------------------------------------------------------


def version_rubric(conn: Connection, version: int) -> Rubric:
    """The rubric of the stored version with row id ``version``."""
    row = conn.execute(
        sa.select(
            RUBRIC_VERSION.c.rubric_key, RUBRIC_VERSION.c.version, RUBRIC_VERSION.c.definition
        ).where(RUBRIC_VERSION.c.id == version)
    ).one()
    return rubric_from_data(json.loads(row[2]), source=f"store:{row[0]}@{row[1]}")


# --- qualification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """An assessor's qualification on a rubric version at a moment.

    Attributes
    ----------
    status : str
        ``qualified``, ``not qualified``, ``expired`` or ``suspended``.
    reason : str
        The status in words (a suspension's reason included).
    until : datetime or None
        When the last passed round stops qualifying (None: no passed round).
    """

    status: str
    reason: str
    until: datetime | None

    @property
    def ok(self) -> bool:
        """Whether the assessor may score live work."""
        return self.status == "qualified"


def qualified(
    conn: Connection, assessor_id: int, version_id: int, now: datetime, valid_days: int
) -> Standing:
    """Whether an assessor may score live work on a rubric version at ``now``, and why (not) in
    words: a passed, finished qualification round less than ``valid_days`` old, and no
    suspension in force (which wins: its reason is what the assessor needs to read)."""
    rubric = conn.execute(
        sa.select(RUBRIC_VERSION.c.rubric_key, RUBRIC_VERSION.c.version).where(
            RUBRIC_VERSION.c.id == version_id
        )
    ).one()
    key = f"{rubric[0]}@{rubric[1]}"
    last = conn.execute(
        sa.select(sa.func.max(ATTEMPT.c.finished_at)).where(
            ATTEMPT.c.assessor_id == assessor_id,
            ATTEMPT.c.rubric_version_id == version_id,
            ATTEMPT.c.purpose == "qualification",
            ATTEMPT.c.passed.is_(True),
            ATTEMPT.c.finished_at.is_not(None),
        )
    ).scalar()
    until = None if last is None else aware(last) + timedelta(days=valid_days)
    suspended = active_suspension(conn, assessor_id, version_id)
    if suspended is not None:
        since, reason = suspended
        why = f"suspended from live scoring on {key} since {aware(since):%Y-%m-%d}: {reason}"
        return Standing("suspended", why, until)
    if until is None:
        return Standing("not qualified", f"no passed qualification round on {key}", None)
    if until <= now:
        return Standing(
            "expired", f"qualification on {key} expired on {until:%Y-%m-%d}: qualify again", until
        )
    return Standing("qualified", f"qualified on {key} until {until:%Y-%m-%d}", until)


# --- submissions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSubmission:
    """A submission as stored, with its rubric version and issuer."""

    id: int
    key: str
    version_id: int
    rubric: str
    issuer: str | None
    earner: str | None
    attempt: int | None
    previous_id: int | None
    artifact: dict[str, str | None]
    received_at: datetime | None
    readings: int | None


def _submissions(conn: Connection, *conditions: Any) -> list[StoredSubmission]:
    rows = conn.execute(
        sa.select(
            SUBMISSION,
            RUBRIC_VERSION.c.rubric_key,
            RUBRIC_VERSION.c.version,
            ISSUER.c.key.label("issuer_key"),
            EARNER.c.key.label("earner_key"),
        )
        .join(RUBRIC_VERSION, RUBRIC_VERSION.c.id == SUBMISSION.c.rubric_version_id)
        .outerjoin(ISSUER, ISSUER.c.id == RUBRIC_VERSION.c.issuer_id)
        .outerjoin(EARNER, EARNER.c.id == SUBMISSION.c.earner_id)
        .where(*conditions)
        .order_by(SUBMISSION.c.received_at, SUBMISSION.c.id)
    ).mappings()
    out = []
    for r in rows:
        stored = {} if r["artifact"] is None else json.loads(r["artifact"])
        out.append(
            StoredSubmission(
                id=int(r["id"]),
                key=str(r["key"]),
                version_id=int(r["rubric_version_id"]),
                rubric=f"{r['rubric_key']}@{r['version']}",
                issuer=r["issuer_key"],
                earner=r["earner_key"],
                attempt=r["attempt"],
                previous_id=r["previous_id"],
                artifact={k: stored.get(k) for k in ARTIFACT_FIELDS},
                received_at=_maybe(r["received_at"]),
                readings=r["readings"],
            )
        )
    return out


def submission_by_key(conn: Connection, key: str) -> StoredSubmission | None:
    found = _submissions(conn, SUBMISSION.c.key == key)
    return found[0] if found else None


def submission_by_id(conn: Connection, submission: int) -> StoredSubmission:
    return _submissions(conn, SUBMISSION.c.id == submission)[0]


def received(conn: Connection, versions: Collection[int]) -> list[StoredSubmission]:
    """The submissions entered for live scoring on ``versions``, oldest received first."""
    return _submissions(
        conn,
        SUBMISSION.c.rubric_version_id.in_(list(versions)),
        SUBMISSION.c.received_at.is_not(None),
    )


def next_attempt_of(conn: Connection, submission: int) -> str | None:
    """The key of the submission that resubmits ``submission`` (None: not resubmitted)."""
    found = conn.execute(
        sa.select(SUBMISSION.c.key).where(SUBMISSION.c.previous_id == submission).limit(1)
    ).scalar()
    return None if found is None else str(found)


def earner_id(conn: Connection, key: str) -> int:
    """The row id of earner ``key``, added when new."""
    found = conn.execute(sa.select(EARNER.c.id).where(EARNER.c.key == key)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(EARNER.insert().returning(EARNER.c.id), {"key": key}).scalar_one())


def add_submission(
    conn: Connection,
    *,
    key: str,
    version: int,
    earner: int | None,
    attempt: int,
    previous: int | None,
    artifact: Mapping[str, str],
    received_at: datetime,
    readings: int,
) -> int:
    """A submission in the live queue: received, with its artifact and the readings it needs."""
    return int(
        conn.execute(
            SUBMISSION.insert().returning(SUBMISSION.c.id),
            {
                "key": key,
                "rubric_version_id": version,
                "earner_id": earner,
                "attempt": attempt,
                "previous_id": previous,
                "artifact": json.dumps(dict(artifact), ensure_ascii=False, sort_keys=True),
                "received_at": received_at,
                "readings": readings,
            },
        ).scalar_one()
    )


# --- assignments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A reading of a submission or a validity anchor handed to an assessor."""

    id: int
    handle: str
    assessor_id: int
    version_id: int
    submission_id: int | None
    anchor_id: int | None
    reading: int | None
    assigned_at: datetime
    due_at: datetime
    finished_at: datetime | None
    released_at: datetime | None
    released_reason: str | None


def _assignments(conn: Connection, *conditions: Any, limit: int | None = None) -> list[Assignment]:
    query = sa.select(ASSIGNMENT).where(*conditions).order_by(ASSIGNMENT.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        Assignment(
            id=int(r["id"]),
            handle=str(r["handle"]),
            assessor_id=int(r["assessor_id"]),
            version_id=int(r["rubric_version_id"]),
            submission_id=r["submission_id"],
            anchor_id=r["anchor_id"],
            reading=r["reading"],
            assigned_at=aware(r["assigned_at"]),
            due_at=aware(r["due_at"]),
            finished_at=_maybe(r["finished_at"]),
            released_at=_maybe(r["released_at"]),
            released_reason=r["released_reason"],
        )
        for r in conn.execute(query).mappings()
    ]


def assignment_by_handle(conn: Connection, handle: str) -> Assignment | None:
    found = _assignments(conn, ASSIGNMENT.c.handle == handle)
    return found[0] if found else None


def _is_open() -> Any:
    return sa.and_(ASSIGNMENT.c.finished_at.is_(None), ASSIGNMENT.c.released_at.is_(None))


def held(conn: Connection, assessor: int, versions: Collection[int]) -> Assignment | None:
    """The assessor's oldest unfinished, unreleased assignment on ``versions``."""
    found = _assignments(
        conn,
        ASSIGNMENT.c.assessor_id == assessor,
        ASSIGNMENT.c.rubric_version_id.in_(list(versions)),
        _is_open(),
        limit=1,
    )
    return found[0] if found else None


def release_expired(conn: Connection, now: datetime) -> int:
    """Release every open assignment past its due time, saying after how many days; returns
    how many."""
    expired = conn.execute(
        sa.select(ASSIGNMENT.c.id, ASSIGNMENT.c.assigned_at, ASSIGNMENT.c.due_at).where(
            _is_open(), ASSIGNMENT.c.due_at < now
        )
    ).all()
    by_days: dict[int, list[int]] = {}
    for aid, assigned, due in expired:
        by_days.setdefault(round((aware(due) - aware(assigned)) / timedelta(days=1)), []).append(
            int(aid)
        )
    for days, ids in by_days.items():
        conn.execute(
            ASSIGNMENT.update()
            .where(ASSIGNMENT.c.id.in_(ids), _is_open())
            .values(released_at=now, released_reason=f"{TIMED_OUT}{days} days")
        )
    return len(expired)


def give_back(conn: Connection, assignment: int, *, at: datetime, reason: str) -> None:
    """An assessor gives an open assignment back to the queue, for another assessor (the
    released reason starts with :data:`GIVEN_BACK`)."""
    done = conn.execute(
        ASSIGNMENT.update()
        .where(ASSIGNMENT.c.id == assignment, _is_open())
        .values(released_at=at, released_reason=f"{GIVEN_BACK}{reason}")
    )
    if done.rowcount != 1:
        raise StoreError(f"assignment {assignment} is not open")


def release_open(
    conn: Connection, assessor: int, version: int, *, at: datetime, reason: str
) -> int:
    """Give back every open assignment of an assessor on a rubric version; returns how many."""
    return int(
        conn.execute(
            ASSIGNMENT.update()
            .where(
                ASSIGNMENT.c.assessor_id == assessor,
                ASSIGNMENT.c.rubric_version_id == version,
                _is_open(),
            )
            .values(released_at=at, released_reason=reason)
        ).rowcount
    )


def finish(conn: Connection, assignment: int, *, at: datetime, comment: str | None) -> None:
    """Mark an open assignment scored, with the assessor's comment."""
    done = conn.execute(
        ASSIGNMENT.update()
        .where(ASSIGNMENT.c.id == assignment, _is_open())
        .values(finished_at=at, comment=comment)
    )
    if done.rowcount != 1:
        raise StoreError(f"assignment {assignment} is not open")


@dataclass(frozen=True)
class Candidate:
    """A submission an assessor may read next, and the reading numbers still free."""

    submission_id: int
    version_id: int
    free: tuple[int, ...]


def candidates(
    conn: Connection,
    assessor: int,
    versions: Collection[int],
    *,
    strict: Collection[int],
    limit: int,
) -> list[Candidate]:
    """Submissions on ``versions`` that ``assessor`` may read next, oldest received first:
    received, without a result, with fewer unreleased assignments than readings, neither held,
    finished nor given back by this assessor (one that timed out may come back to them), nor
    rated by them; on the
    versions in ``strict`` (rule ``resubmission.different_assessor``), no resubmission of which
    they rated an earlier attempt (following ``previous_id`` back from the open submissions)."""
    taken = (
        sa.select(sa.func.count())
        .where(ASSIGNMENT.c.submission_id == SUBMISSION.c.id, ASSIGNMENT.c.released_at.is_(None))
        .scalar_subquery()
    )
    conditions: list[Any] = [
        SUBMISSION.c.rubric_version_id.in_(list(versions)),
        SUBMISSION.c.received_at.is_not(None),
        ~sa.exists().where(RESULT.c.submission_id == SUBMISSION.c.id),
        taken < SUBMISSION.c.readings,
        ~sa.exists().where(
            ASSIGNMENT.c.submission_id == SUBMISSION.c.id,
            ASSIGNMENT.c.assessor_id == assessor,
            sa.or_(
                ASSIGNMENT.c.released_at.is_(None),
                ASSIGNMENT.c.released_reason.startswith(GIVEN_BACK, autoescape=True),
            ),
        ),
        ~sa.exists().where(
            RATING.c.assessor_id == assessor, RATING.c.submission_id == SUBMISSION.c.id
        ),
    ]
    if strict:
        # Walk back from each open resubmission to its earlier attempts (a few steps each),
        # rather than forward from every rating the assessor ever gave (tens of thousands).
        first = SUBMISSION.alias("open_attempt")
        chain = (
            sa.select(first.c.id.label("origin"), first.c.previous_id.label("id"))
            .where(
                first.c.rubric_version_id.in_(list(strict)),
                first.c.received_at.is_not(None),
                first.c.previous_id.is_not(None),
                ~sa.exists().where(RESULT.c.submission_id == first.c.id),
            )
            .cte("chain", recursive=True)
        )
        step, before = chain.alias("step"), SUBMISSION.alias("before")
        chain = chain.union_all(
            sa.select(step.c.origin, before.c.previous_id)
            .join(step, before.c.id == step.c.id)
            .where(before.c.previous_id.is_not(None))
        )
        conditions.append(
            ~sa.exists()
            .select_from(chain.join(RATING, RATING.c.submission_id == chain.c.id))
            .where(chain.c.origin == SUBMISSION.c.id, RATING.c.assessor_id == assessor)
        )
    rows = conn.execute(
        sa.select(SUBMISSION.c.id, SUBMISSION.c.rubric_version_id, SUBMISSION.c.readings)
        .where(*conditions)
        .order_by(SUBMISSION.c.received_at, SUBMISSION.c.id)
        .limit(limit)
    ).all()
    ids = [int(r[0]) for r in rows]
    used: dict[int, set[int]] = {i: set() for i in ids}
    for sid, reading in conn.execute(
        sa.select(ASSIGNMENT.c.submission_id, ASSIGNMENT.c.reading).where(
            ASSIGNMENT.c.submission_id.in_(ids), ASSIGNMENT.c.released_at.is_(None)
        )
    ):
        used[int(sid)].add(int(reading))
    return [
        Candidate(
            int(sid),
            int(version),
            tuple(n for n in range(1, int(k) + 1) if n not in used[int(sid)]),
        )
        for sid, version, k in rows
    ]


def unseen_anchors(conn: Connection, assessor: int, version: int, purpose: str) -> list[int]:
    """Anchors of one purpose of a rubric version that ``assessor`` was never assigned and
    never rated outside a calibration round, in stored order."""
    return [
        int(i)
        for i in conn.execute(
            sa.select(ANCHOR.c.id)
            .where(
                ANCHOR.c.rubric_version_id == version,
                ANCHOR.c.purpose == purpose,
                ~sa.exists().where(
                    ASSIGNMENT.c.anchor_id == ANCHOR.c.id, ASSIGNMENT.c.assessor_id == assessor
                ),
                ~sa.exists().where(
                    RATING.c.anchor_id == ANCHOR.c.id,
                    RATING.c.assessor_id == assessor,
                    RATING.c.calibration_attempt_id.is_(None),
                ),
            )
            .order_by(ANCHOR.c.id)
        ).scalars()
    ]


def assign(
    conn: Connection,
    *,
    handle: str,
    assessor: int,
    version: int,
    target: tuple[str, int],
    reading: int | None,
    at: datetime,
    due: datetime,
) -> bool:
    """Hand a submission's ``reading`` (``("s", id)``) or an anchor (``("a", id)``) to an
    assessor, in a savepoint: False when the database's unique indexes refuse it (the reading
    or the handle taken meanwhile), and the transaction goes on."""
    kind, target_id = target
    try:
        with conn.begin_nested():
            conn.execute(
                ASSIGNMENT.insert(),
                {
                    "handle": handle,
                    "assessor_id": assessor,
                    "rubric_version_id": version,
                    "submission_id": target_id if kind == "s" else None,
                    "anchor_id": target_id if kind == "a" else None,
                    "reading": reading,
                    "assigned_at": at,
                    "due_at": due,
                },
            )
    except IntegrityError:
        return False
    return True


# --- readings and results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A finished reading of a submission: whose, its scores by criterion key, the comment."""

    reading: int
    assessor_id: int
    assessor: str
    scores: dict[str, int]
    comment: str | None
    finished_at: datetime


def readings_of(conn: Connection, submissions: Collection[int]) -> dict[int, list[Reading]]:
    """Submission id -> its finished, unreleased readings in reading order, with the current
    ratings of each reader."""
    out: dict[int, list[Reading]] = {int(s): [] for s in submissions}
    rows = conn.execute(
        sa.select(
            ASSIGNMENT.c.submission_id,
            ASSIGNMENT.c.reading,
            ASSIGNMENT.c.assessor_id,
            ASSESSOR.c.key,
            ASSIGNMENT.c.comment,
            ASSIGNMENT.c.finished_at,
        )
        .join(ASSESSOR, ASSESSOR.c.id == ASSIGNMENT.c.assessor_id)
        .where(
            ASSIGNMENT.c.submission_id.in_(list(out)),
            ASSIGNMENT.c.finished_at.is_not(None),
            ASSIGNMENT.c.released_at.is_(None),
        )
        .order_by(ASSIGNMENT.c.submission_id, ASSIGNMENT.c.reading)
    ).all()
    later = RATING.alias("later")
    scores: dict[tuple[int, int], dict[str, int]] = {}
    for sid, assessor, criterion, score in conn.execute(
        sa.select(RATING.c.submission_id, RATING.c.assessor_id, CRITERION.c.key, RATING.c.score)
        .join(CRITERION, CRITERION.c.id == RATING.c.criterion_id)
        .where(
            RATING.c.submission_id.in_(list(out)),
            ~sa.exists().where(later.c.supersedes_id == RATING.c.id),
        )
    ):
        scores.setdefault((int(sid), int(assessor)), {})[str(criterion)] = int(score)
    for sid, reading, assessor, key, comment, finished in rows:
        out[int(sid)].append(
            Reading(
                int(reading),
                int(assessor),
                str(key),
                scores.get((int(sid), int(assessor)), {}),
                comment,
                aware(finished),
            )
        )
    return out


def open_counts(conn: Connection, submissions: Collection[int]) -> dict[int, int]:
    """Submission id -> its assignments neither finished nor released."""
    out = {int(s): 0 for s in submissions}
    for sid, n in conn.execute(
        sa.select(ASSIGNMENT.c.submission_id, sa.func.count())
        .where(ASSIGNMENT.c.submission_id.in_(list(out)), _is_open())
        .group_by(ASSIGNMENT.c.submission_id)
    ):
        out[int(sid)] = int(n)
    return out


@dataclass(frozen=True)
class Result:
    """The current final scores and decision of a submission."""

    submission_id: int
    revision: int
    scores: dict[str, int]
    passed: bool
    rule: str
    third_reading: dict[str, int] | None
    reason: str | None
    decided_by: str
    decided_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": self.scores,
            "passed": self.passed,
            "rule": self.rule,
            "third_reading": self.third_reading,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(),
        }


def results_of(conn: Connection, submissions: Collection[int]) -> dict[int, Result]:
    """Submission id -> its current result (the revision no other supersedes), where it has
    one."""
    later = RESULT.alias("later")
    out: dict[int, Result] = {}
    for r in conn.execute(
        sa.select(RESULT).where(
            RESULT.c.submission_id.in_(list(submissions)),
            ~sa.exists().where(later.c.supersedes_id == RESULT.c.id),
        )
    ).mappings():
        out[int(r["submission_id"])] = Result(
            submission_id=int(r["submission_id"]),
            revision=int(r["revision"]),
            scores=json.loads(r["scores"]),
            passed=bool(r["passed"]),
            rule=str(r["rule"]),
            third_reading=None if r["third_reading"] is None else json.loads(r["third_reading"]),
            reason=r["reason"],
            decided_by=str(r["decided_by"]),
            decided_at=aware(r["decided_at"]),
        )
    return out


def add_result(
    conn: Connection,
    *,
    submission: int,
    scores: Mapping[str, int],
    passed: bool,
    rule: str,
    decided_by: str,
    at: datetime,
    third_reading: Mapping[str, int] | None = None,
    reason: str | None = None,
) -> bool:
    """The first result of a submission (revision 1), in a savepoint: False when the database
    already holds one (another decision won the race)."""
    try:
        with conn.begin_nested():
            conn.execute(
                RESULT.insert(),
                {
                    "submission_id": submission,
                    "revision": 1,
                    "scores": json.dumps(dict(scores), sort_keys=True),
                    "passed": passed,
                    "rule": rule,
                    "third_reading": None
                    if third_reading is None
                    else json.dumps(dict(third_reading), sort_keys=True),
                    "reason": reason,
                    "decided_by": decided_by,
                    "decided_at": at,
                },
            )
    except IntegrityError:
        return False
    return True


# --- validity readings and suspensions ------------------------------------------------------------


def validity_readings(
    conn: Connection, assessor: int, version: int, *, since: datetime | None, limit: int
) -> list[tuple[int, dict[str, int]]]:
    """The assessor's last ``limit`` finished validity-anchor readings on a rubric version
    (after ``since`` when given), newest first, as (anchor id, scores by criterion key)."""
    conditions = [
        ASSIGNMENT.c.assessor_id == assessor,
        ASSIGNMENT.c.rubric_version_id == version,
        ASSIGNMENT.c.anchor_id.is_not(None),
        ASSIGNMENT.c.finished_at.is_not(None),
        ASSIGNMENT.c.released_at.is_(None),
    ]
    if since is not None:
        conditions.append(ASSIGNMENT.c.finished_at > since)
    anchors = [
        int(a)
        for a in conn.execute(
            sa.select(ASSIGNMENT.c.anchor_id)
            .where(*conditions)
            .order_by(ASSIGNMENT.c.finished_at.desc(), ASSIGNMENT.c.id.desc())
            .limit(limit)
        ).scalars()
    ]
    scores: dict[int, dict[str, int]] = {a: {} for a in anchors}
    later = RATING.alias("later")
    for anchor, criterion, score in conn.execute(
        sa.select(RATING.c.anchor_id, CRITERION.c.key, RATING.c.score)
        .join(CRITERION, CRITERION.c.id == RATING.c.criterion_id)
        .where(
            RATING.c.assessor_id == assessor,
            RATING.c.anchor_id.in_(anchors),
            RATING.c.context == "validity",
            ~sa.exists().where(later.c.supersedes_id == RATING.c.id),
        )
    ):
        scores[int(anchor)][str(criterion)] = int(score)
    return [(a, scores[a]) for a in anchors]


def last_lifted(conn: Connection, assessor: int, version: int) -> datetime | None:
    """When the assessor's latest suspension on a rubric version was lifted (None: never)."""
    found = conn.execute(
        sa.select(sa.func.max(SUSPENSION.c.lifted_at)).where(
            SUSPENSION.c.assessor_id == assessor, SUSPENSION.c.rubric_version_id == version
        )
    ).scalar()
    return _maybe(found)


def suspend(
    conn: Connection,
    *,
    assessor: int,
    version: int,
    kind: str,
    reason: str,
    at: datetime,
    by: str,
) -> int:
    """A suspension from live scoring in force from ``at``."""
    return int(
        conn.execute(
            SUSPENSION.insert().returning(SUSPENSION.c.id),
            {
                "assessor_id": assessor,
                "rubric_version_id": version,
                "kind": kind,
                "reason": reason,
                "started_at": at,
                "started_by": by,
            },
        ).scalar_one()
    )


def lift(
    conn: Connection, assessor: int, version: int, *, at: datetime, by: str, reason: str
) -> int:
    """Lift every suspension in force of an assessor on a rubric version; returns how many."""
    return int(
        conn.execute(
            SUSPENSION.update()
            .where(
                SUSPENSION.c.assessor_id == assessor,
                SUSPENSION.c.rubric_version_id == version,
                SUSPENSION.c.lifted_at.is_(None),
            )
            .values(lifted_at=at, lifted_by=by, lift_reason=reason)
        ).rowcount
    )


@dataclass(frozen=True)
class SuspensionRecord:
    """A suspension, in force or lifted."""

    assessor: str
    rubric: str
    kind: str
    reason: str
    started_at: datetime
    started_by: str
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "assessor": self.assessor,
            "rubric": self.rubric,
            "kind": self.kind,
            "reason": self.reason,
            "active": self.lifted_at is None,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "lifted_at": None if self.lifted_at is None else self.lifted_at.isoformat(),
            "lifted_by": self.lifted_by,
            "lift_reason": self.lift_reason,
        }


def suspensions_on(conn: Connection, versions: Collection[int]) -> list[SuspensionRecord]:
    """Every suspension on ``versions``, newest first."""
    rows = conn.execute(
        sa.select(
            SUSPENSION,
            ASSESSOR.c.key.label("assessor_key"),
            RUBRIC_VERSION.c.rubric_key,
            RUBRIC_VERSION.c.version,
        )
        .join(ASSESSOR, ASSESSOR.c.id == SUSPENSION.c.assessor_id)
        .join(RUBRIC_VERSION, RUBRIC_VERSION.c.id == SUSPENSION.c.rubric_version_id)
        .where(SUSPENSION.c.rubric_version_id.in_(list(versions)))
        .order_by(SUSPENSION.c.started_at.desc(), SUSPENSION.c.id.desc())
    ).mappings()
    return [
        SuspensionRecord(
            assessor=str(r["assessor_key"]),
            rubric=f"{r['rubric_key']}@{r['version']}",
            kind=str(r["kind"]),
            reason=str(r["reason"]),
            started_at=aware(r["started_at"]),
            started_by=str(r["started_by"]),
            lifted_at=_maybe(r["lifted_at"]),
            lifted_by=r["lifted_by"],
            lift_reason=r["lift_reason"],
        )
        for r in rows
    ]


def existing_assessor(conn: Connection, key: str) -> int | None:
    """The row id of assessor ``key`` (None: not in the store)."""
    found = conn.execute(sa.select(ASSESSOR.c.id).where(ASSESSOR.c.key == key)).scalar()
    return None if found is None else int(found)
