"""Tables of the store (SQLModel). Schema changes go through Alembic migrations.

Ratings are append-only: a correction is a new row with ``revision`` + 1 that ``supersedes`` the
old one, which is kept with who changed it and when. Earners and assessors are pseudonymous keys.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, Column, DateTime, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class Issuer(SQLModel, table=True):
    """An organisation that awards credentials: it owns rubrics, anchor sets, ratings, accounts."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RubricVersion(SQLModel, table=True):
    """One rubric version; ``definition`` holds it whole as JSON, so old versions stay readable.
    The issuer owns it, and with it its anchor sets and the ratings made under it."""

    __tablename__ = "rubric_version"
    __table_args__ = (UniqueConstraint("rubric_key", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int | None = Field(default=None, foreign_key="issuer.id", index=True)
    rubric_key: str = Field(max_length=100, index=True)
    version: int
    title: str
    content_hash: str = Field(max_length=64)
    definition: str
    imported_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Level(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rubric_version_id", "score"),)
    id: int | None = Field(default=None, primary_key=True)
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    score: int
    label: str


class Criterion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rubric_version_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    key: str = Field(max_length=100)
    title: str
    part: str | None = None
    position: int


class AnchorSet(SQLModel, table=True):
    """An anchor set; ``definition`` holds it as JSON without the expert scores and rationales,
    which :class:`AnchorScore` holds (one copy of the answer key, kept apart from the artifacts an
    assessor sees). ``content_hash`` is over the whole set, scores included."""

    __tablename__ = "anchor_set"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    title: str
    content_hash: str = Field(max_length=64)
    definition: str
    imported_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Anchor(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rubric_version_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    anchor_set_id: int = Field(foreign_key="anchor_set.id")
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    key: str = Field(max_length=100)
    purpose: str = Field(max_length=20)
    title: str


class AnchorScore(SQLModel, table=True):
    """The expert consensus score of an anchor on one criterion, with its rationale."""

    __tablename__ = "anchor_score"
    __table_args__ = (UniqueConstraint("anchor_id", "criterion_id"),)
    id: int | None = Field(default=None, primary_key=True)
    anchor_id: int = Field(foreign_key="anchor.id")
    criterion_id: int = Field(foreign_key="criterion.id")
    score: int
    rationale: str


class Assessor(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Earner(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)


class Submission(SQLModel, table=True):
    """An earner's attempt at a credential; ``previous_id`` links to the attempt before.

    A submission entered for live scoring has ``received_at`` (it is in the queue), its
    ``artifact`` (JSON: title, description, excerpt, as an anchor's) and ``readings``, the
    independent readings it needs (2 when drawn for double scoring). Submissions known only
    from imported ratings have none of these."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    earner_id: int | None = Field(default=None, foreign_key="earner.id")
    attempt: int | None = None
    previous_id: int | None = Field(default=None, foreign_key="submission.id")
    artifact: str | None = None
    received_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    readings: int | None = None


class CalibrationAttempt(SQLModel, table=True):
    """One practice or qualification round of an assessor on anchors of a rubric version."""

    __tablename__ = "calibration_attempt"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    assessor_id: int = Field(foreign_key="assessor.id")
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    purpose: str = Field(max_length=20)
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    passed: bool | None = None
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    result: str | None = None  # JSON: the judgement of a qualification round
    note: str | None = None  # e.g. anchors reused from earlier rounds


class AttemptAnchor(SQLModel, table=True):
    """The anchors a practice or qualification attempt drew, in the order shown."""

    __tablename__ = "attempt_anchor"
    __table_args__ = (
        UniqueConstraint("attempt_id", "position"),
        UniqueConstraint("attempt_id", "anchor_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="calibration_attempt.id")
    anchor_id: int = Field(foreign_key="anchor.id")
    position: int


class ImportBatch(SQLModel, table=True):
    """One import: what file, its SHA-256, how many rows it had and wrote, when and by whom."""

    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    source: str
    sha256: str = Field(max_length=64, index=True)
    n_rows: int
    n_written: int
    imported_by: str = Field(max_length=100)
    imported_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Rating(SQLModel, table=True):
    """One score of one assessor on one criterion of a submission or an anchor.

    Append-only: a correction is a new row (``revision`` + 1, ``supersedes_id`` -> the old row)
    recorded with ``recorded_by`` and ``recorded_at``; the current rating of a key is the one no
    other row supersedes. A rating's identity (assessor, submission or anchor, criterion,
    calibration round, revision) is unique in the database (``uq_rating_identity``: absent
    parts count as 0, since NULLs are distinct in a plain unique constraint).
    """

    __table_args__ = (
        CheckConstraint("(submission_id IS NULL) <> (anchor_id IS NULL)", name="rating_one_target"),
        Index("ix_rating_target", "submission_id", "anchor_id", "criterion_id", "assessor_id"),
        Index(
            "uq_rating_identity",
            "assessor_id",
            func.coalesce(text("submission_id"), 0),
            func.coalesce(text("anchor_id"), 0),
            "criterion_id",
            func.coalesce(text("calibration_attempt_id"), 0),
            "revision",
            unique=True,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    assessor_id: int = Field(foreign_key="assessor.id")  # indexed first in uq_rating_identity
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    anchor_id: int | None = Field(default=None, foreign_key="anchor.id")
    criterion_id: int = Field(foreign_key="criterion.id")
    score: int
    context: str = Field(max_length=20)
    rated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    calibration_attempt_id: int | None = Field(
        default=None, foreign_key="calibration_attempt.id", index=True
    )
    revision: int = 1
    supersedes_id: int | None = Field(default=None, foreign_key="rating.id", unique=True)
    reason: str | None = None
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id")


class Account(SQLModel, table=True):
    """A person who logs in. The password is kept only as an Argon2id hash (argon2-cffi); an
    account that logs in through single sign-on has ``sso_identity`` (the identity provider's
    e-mail) instead or as well. ``assessor_key`` ties an assessor or lead to their ratings."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    issuer_id: int | None = Field(default=None, foreign_key="issuer.id")
    assessor_key: str | None = Field(default=None, max_length=100)
    password_hash: str | None = Field(default=None, max_length=200)
    sso_identity: str | None = Field(default=None, max_length=320, unique=True)
    disabled: bool = False
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class BoardGrant(SQLModel, table=True):
    """An issuer's grant to a board reviewer to see its aggregates."""

    __tablename__ = "board_grant"
    __table_args__ = (UniqueConstraint("account_id", "issuer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    issuer_id: int = Field(foreign_key="issuer.id")
    granted_by: str = Field(max_length=200)
    granted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class LoginSession(SQLModel, table=True):
    """A login: only the SHA-256 of its token is stored, so a copy of the database opens no
    session."""

    __tablename__ = "login_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A login attempt, for the rate limit (failures per user name in a window)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_user_at", "username", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    succeeded: bool


class AuditEvent(SQLModel, table=True):
    """One administrative action, append-only and hash-chained: ``hash`` is the SHA-256 of the
    previous event's hash and this event's canonical content, so an edited or removed event
    breaks the chain (``calibrate verify``). Database triggers refuse updates and deletes."""

    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_column=_ts())
    actor: str = Field(max_length=200)
    action: str = Field(max_length=50)
    issuer: str | None = Field(default=None, max_length=100, index=True)
    subject: str
    detail: str
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class StoreSecret(SQLModel, table=True):
    """Random secrets of this store (the pseudonym key), made once by a migration."""

    __tablename__ = "store_secret"
    purpose: str = Field(max_length=50, primary_key=True)
    value: str = Field(max_length=128)


OPEN = text("released_at IS NULL")
UNFINISHED = text("finished_at IS NULL AND released_at IS NULL")


class Assignment(SQLModel, table=True):
    """A live submission (one of its readings) or a seeded validity anchor handed to an
    assessor. ``handle`` is what the assessor sees, the same form for both. Released (timed out
    or given back) assignments keep their row; at most one unreleased assignment holds a
    reading of a submission, and an assessor holds a submission or an anchor at most once."""

    __table_args__ = (
        CheckConstraint(
            "(submission_id IS NULL) <> (anchor_id IS NULL)", name="assignment_one_target"
        ),
        Index(
            "uq_assignment_reading",
            "submission_id",
            "reading",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index(
            "uq_assignment_reader",
            "assessor_id",
            func.coalesce(text("submission_id"), 0),
            func.coalesce(text("anchor_id"), 0),
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index("ix_assignment_open", "assessor_id", "finished_at", "released_at"),
        Index("ix_assignment_due", "due_at", sqlite_where=UNFINISHED, postgresql_where=UNFINISHED),
    )
    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=20, unique=True)
    assessor_id: int = Field(foreign_key="assessor.id")
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    anchor_id: int | None = Field(default=None, foreign_key="anchor.id")
    reading: int | None = None
    assigned_at: datetime = Field(sa_column=_ts())
    due_at: datetime = Field(sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    comment: str | None = None
    released_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    released_reason: str | None = None


class SubmissionResult(SQLModel, table=True):
    """The final scores and pass decision of a submission, append-only: a later decision (an
    adjudication after a discrepant pair, a correction) is a new revision that supersedes."""

    __tablename__ = "submission_result"
    __table_args__ = (UniqueConstraint("submission_id", "revision"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    revision: int = 1
    supersedes_id: int | None = Field(default=None, foreign_key="submission_result.id", unique=True)
    scores: str  # JSON: criterion key -> level score
    passed: bool
    rule: str = Field(max_length=100)
    third_reading: str | None = None  # JSON, for an adjudication
    reason: str | None = None
    decided_by: str = Field(max_length=200)
    decided_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Suspension(SQLModel, table=True):
    """An assessor suspended from live scoring on a rubric version, with the reason; lifting it
    sets ``lifted_at`` once."""

    id: int | None = Field(default=None, primary_key=True)
    assessor_id: int = Field(foreign_key="assessor.id", index=True)
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    kind: str = Field(max_length=20)
    reason: str
    started_at: datetime = Field(sa_column=_ts())
    started_by: str = Field(max_length=200)
    lifted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    lifted_by: str | None = Field(default=None, max_length=200)
    lift_reason: str | None = None
