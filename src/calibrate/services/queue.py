"""The live scoring queue, final results, adjudication and suspensions (issue 11, parts 3-5).

Submissions entered for live scoring (:func:`add_submission`) wait in a queue; each needs one
reading, or two when drawn for double scoring (share ``live.double_share``). An assessor asks
for the next item (:func:`queue_next`) and scores it (:func:`queue_score`). Only assessors
qualified on the rubric version and not suspended get live work; no one reads a submission
twice, and by default no one reads a resubmission whose earlier attempt they read
(``resubmission.different_assessor``). An assignment not scored within
``live.assignment_timeout_days`` goes back to the queue.

Validity anchors are seeded unannounced at the rate ``live.validity_rate`` (accuracy checked
all along, as NAEP's backreading [2]_): when a live
submission is waiting, an anchor the assessor never had may be handed out instead. An anchor
is never handed out when no live submission waits (an empty queue that still served items
would give them away). Everything an assessor receives is the same for both kinds: a
:class:`QueueItem` with a handle (``S-`` and ten hex digits), the rubric, the artifact and the
times, and the same receipt after scoring.

A single reading stands; two readings that agree resolve to the first (the score of record,
as NAEP does [1]_); a discrepant pair (a criterion more than ``adjudication.max_gap`` levels apart,
or, with ``adjudication.on_decision``, different pass decisions) waits for a lead assessor of
the issuer who read neither (:func:`adjudications`, :func:`adjudicate`):
:func:`calibrate.workflow.resolve_readings` and :func:`calibrate.workflow.resolve_adjudication`.
Results are append-only revisions (``submission_result``).

Who: ``submissions.add`` (administrators, the operator) enters submissions;
``queue.score`` (assessors and leads) scores; ``adjudication.resolve`` (leads) adjudicates;
``workflow.manage`` (administrators, the operator) reads results and suspends or reinstates
assessors. Every call that writes is one write transaction: a refused call leaves the store as
it was.

References
----------
.. [1] National Center for Education Statistics. NAEP Technical Documentation: Science
   Interrater Agreement (second scoring; the first score is the score of record).
   https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_within_sci.asp
.. [2] National Center for Education Statistics. NAEP Technical Documentation: Backreading
   (at least 5 percent of each scorer's work checked all along).
   https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_backreading.aspx
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from calibrate.access import Actor, require
from calibrate.errors import AccessDenied, CalibrateError
from calibrate.rubric import ID_PATTERN, MAX_ID_LENGTH, Rubric
from calibrate.workflow import (
    IntArray,
    check_scores,
    missed,
    resolve_adjudication,
    resolve_readings,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import Connection

    from calibrate.flags import Flag
    from calibrate.rules import ProgrammeRules
    from calibrate.stats import Progress
    from calibrate.store.queue import Assignment, Reading, StoredSubmission
    from calibrate.store.scoring import StoredVersion

MAX_TEXT = 5_000
"""Characters of a comment or a reason."""
MAX_ARTIFACT_TEXT = 50_000
"""Characters of an artifact's description or excerpt."""
MAX_TITLE = 200
"""Characters of an artifact's title."""
_CANDIDATES = 10  # submissions tried in turn when the database refuses an assignment
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # newline and tab allowed


def _now(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise CalibrateError("a time must carry its time zone (UTC, for instance)")
    return at.astimezone(UTC)


def _assessor_key(actor: Actor) -> str:
    if not actor.assessor:
        raise AccessDenied(f"{actor.name} ({actor.role}) has no assessor key: nothing to score")
    return actor.assessor


def _rubrics(engine: Engine, actor: Actor, rubric: str | None) -> list[Rubric]:
    """``rubric`` (``id@version``, or ``id`` with one version) or every rubric version of the
    actor's issuers."""
    from calibrate.store import stored_rubric, stored_rubrics

    if rubric is None:
        return stored_rubrics(engine=engine, issuers=actor.issuers)
    if not isinstance(rubric, str):
        raise CalibrateError("rubric must be given as ID@VERSION")
    return [stored_rubric(rubric, engine=engine, issuers=actor.issuers)]


def _rules(rubric: Rubric) -> ProgrammeRules:
    from calibrate.services.rules import programme_rules

    return programme_rules(rubric=rubric)


def _text(value: object, what: str, *, limit: int = MAX_TEXT) -> str | None:
    """Free text (a comment, a reason): stripped, at most ``limit`` characters, no control
    character other than newline and tab; None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CalibrateError(f"{what} must be text")
    value = value.strip()
    if len(value) > limit:
        raise CalibrateError(f"{what} is {len(value):,} characters long (at most {limit:,})")
    control = _CONTROL_IN_TEXT.search(value)
    if control is not None:
        raise CalibrateError(f"{what} contains the control character U+{ord(control.group()):04X}")
    return value or None


def _reason(value: object, what: str) -> str:
    """Required free text (see :func:`_text`)."""
    text = _text(value, what)
    if text is None:
        raise CalibrateError(f"{what} is empty: say why")
    return text


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# --- entering submissions -------------------------------------------------------------------------


def _artifact(artifact: object) -> dict[str, str]:
    """An artifact as stored: a title, and a description and an excerpt where given."""
    if not isinstance(artifact, Mapping):
        raise CalibrateError("artifact must map title, description and excerpt to text")
    unknown = sorted(str(k) for k in artifact if k not in ("title", "description", "excerpt"))
    if unknown:
        raise CalibrateError(
            f"artifact: unknown field {', '.join(unknown)} (fields: title, description, excerpt)"
        )
    title = _text(artifact.get("title"), "artifact: title", limit=MAX_TITLE)
    if title is None:
        raise CalibrateError("artifact: title is required (text)")
    if "\n" in title or "\t" in title:
        raise CalibrateError("artifact: title must be one line")
    out = {"title": title}
    for name in ("description", "excerpt"):
        value = _text(artifact.get(name), f"artifact: {name}", limit=MAX_ARTIFACT_TEXT)
        if value is not None:
            out[name] = value
    return out


def add_submission(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    key: str,
    artifact: Mapping[str, str],
    earner: str | None = None,
    previous: str | None = None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """Enter a submission for live scoring on a rubric version of the actor's issuer.

    ``previous`` names the earner's earlier attempt (a submission of the same rubric, any
    version): this one is its next attempt, of the same earner, refused beyond
    ``resubmission.max_attempts``; an attempt that earned the credential or was already
    resubmitted is not resubmitted. The submission needs two independent readings with
    probability ``live.double_share``, one otherwise.

    Returns
    -------
    dict
        ``key``, ``rubric``, ``attempt``, ``readings``.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    CalibrateError
        An unknown rubric, a key that is not an id or is taken, an artifact without a title or
        with other fields, an unknown previous attempt, another earner than the previous
        attempt's, too many attempts.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.engine import writing
    from calibrate.store.guards import name_problem
    from calibrate.store.queue import (
        add_submission as insert,
    )
    from calibrate.store.queue import (
        earner_id,
        next_attempt_of,
        results_of,
        submission_by_key,
    )
    from calibrate.store.scoring import stored_version

    require(actor, "submissions.add")
    (found,) = _rubrics(engine, actor, rubric)
    if not isinstance(key, str) or not re.fullmatch(ID_PATTERN, key) or len(key) > MAX_ID_LENGTH:
        raise CalibrateError(
            f"submission key {key!r:.60}: lower-case letters, digits, '.', '_' and '-', starting "
            f"with a letter or digit, at most {MAX_ID_LENGTH} characters"
        )
    if earner is not None and (problem := name_problem(earner, "earner")) is not None:
        raise CalibrateError(problem)
    stored_artifact = _artifact(artifact)
    received = _now(received_at)
    rules = _rules(found)
    readings = 2 if secrets.SystemRandom().random() < rules.live.double_share else 1
    with writing(engine) as conn:
        version = stored_version(conn, found)
        if submission_by_key(conn, key) is not None:
            raise CalibrateError(f"submission key {key!r} is taken: choose another")
        attempt, previous_id = 1, None
        if previous is not None:
            before = submission_by_key(conn, previous) if isinstance(previous, str) else None
            if (
                before is None
                or before.issuer is None
                or not actor.sees_issuer(before.issuer)
                or before.rubric.partition("@")[0] != found.id
            ):
                raise CalibrateError(f"no submission {previous!r} of {found.id} to resubmit")
            if earner is not None and before.earner is not None and earner != before.earner:
                raise CalibrateError(
                    f"submission {previous} is earner {before.earner!r}'s: a resubmission "
                    "keeps the earner"
                )
            again = next_attempt_of(conn, before.id)
            if again is not None:
                raise CalibrateError(f"submission {previous} was already resubmitted as {again}")
            decided = results_of(conn, [before.id]).get(before.id)
            if decided is not None and decided.passed:
                raise CalibrateError(
                    f"submission {previous} earned the credential: there is nothing to resubmit"
                )
            attempt, previous_id = (before.attempt or 1) + 1, before.id
            earner = earner if earner is not None else before.earner
        limit = rules.resubmission.max_attempts
        if attempt > limit:
            raise CalibrateError(
                f"this would be attempt {attempt}: an earner may submit {found.id} at most "
                f"{limit} times (rule resubmission.max_attempts)"
            )
        insert(
            conn,
            key=key,
            version=version.id,
            earner=None if earner is None else earner_id(conn, earner),
            attempt=attempt,
            previous=previous_id,
            artifact=stored_artifact,
            received_at=received,
            readings=readings,
        )
        append_event(
            conn,
            actor=actor.name,
            action="submission.add",
            issuer=version.issuer,
            subject=f"submission {key}",
            detail={"rubric": found.key, "attempt": attempt, "readings": readings},
        )
    return {"key": key, "rubric": found.key, "attempt": attempt, "readings": readings}


# --- what an assessor sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """An item of an assessor's queue, the same for a live submission and a seeded validity
    anchor: nothing says which it is, nor who submitted it, which attempt it is, or how others
    scored it.

    Attributes
    ----------
    handle : str
        ``S-`` and ten hex digits, new for every assignment.
    rubric : str
        ``id@version``.
    artifact : dict
        ``title``, ``description``, ``excerpt`` (None when absent).
    assigned_at, due_at : datetime
        When it was handed out, and when it goes back to the queue unless scored.
    """

    handle: str
    rubric: str
    artifact: dict[str, str | None]
    assigned_at: datetime
    due_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "rubric": self.rubric,
            "artifact": dict(self.artifact),
            "assigned_at": self.assigned_at.isoformat(),
            "due_at": self.due_at.isoformat(),
        }


NoItem = Literal["no rubric", "not qualified", "expired", "suspended", "nothing waiting"]
"""Why a queue hands out nothing on a rubric version (or, ``no rubric``, at all)."""


@dataclass(frozen=True)
class Reason:
    """Why nothing comes from one rubric version of a queue: ``kind``, the rubric (``id@version``;
    None for ``no rubric``) and the reason in words (a suspension's reason included)."""

    kind: NoItem
    rubric: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rubric": self.rubric, "text": self.text}


@dataclass(frozen=True)
class QueueNext:
    """The next item of an assessor's queue; or None with the reasons, one per rubric version
    of the issuer that gives nothing (``message``: their words joined by "; ")."""

    item: QueueItem | None
    message: str
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": None if self.item is None else self.item.to_dict(),
            "message": self.message,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _nothing(reasons: list[Reason], message: str | None = None) -> QueueNext:
    return QueueNext(None, message or "; ".join(r.text for r in reasons), tuple(reasons))


def _next(conn: Connection, held: Assignment, rubric: str) -> QueueNext:
    """An assignment as its assessor sees it, whichever kind it is."""
    from calibrate.store.queue import ARTIFACT_FIELDS, submission_by_id
    from calibrate.store.scoring import anchors_by_id

    if held.submission_id is not None:
        artifact = submission_by_id(conn, held.submission_id).artifact
    else:
        assert held.anchor_id is not None
        (anchor,) = anchors_by_id(conn, [held.anchor_id])
        artifact = {k: anchor.artifact.get(k) for k in ARTIFACT_FIELDS}
    return QueueNext(
        QueueItem(held.handle, rubric, artifact, held.assigned_at, held.due_at),
        f"score it by {held.due_at:%Y-%m-%d %H:%M} UTC or give it back",
    )


def _handle() -> str:
    return f"S-{secrets.token_hex(5)}"


def queue_next(
    *, engine: Engine, actor: Actor, rubric: str | None = None, at: datetime | None = None
) -> QueueNext:
    """The next item of the acting assessor's queue on ``rubric`` (default: every rubric
    version of their issuer).

    First, assignments past their due time go back to the queue. An item the assessor holds
    unscored comes back as it was (a reload loses nothing). Otherwise, on the versions the
    assessor is qualified on and not suspended from, the oldest received submission they may
    read (see :func:`calibrate.store.queue.candidates`) takes its lowest free reading; or, with
    probability ``live.validity_rate`` and only when such a submission waits, a validity anchor
    of its version they never had is handed out instead. ``at`` backdates the call (the
    demo's history, tests); the doors never pass it.

    Raises
    ------
    AccessDenied
        Not an assessor or lead assessor.
    CalibrateError
        An unknown rubric.
    """
    from calibrate.store.engine import writing
    from calibrate.store.queue import (
        assign,
        candidates,
        held,
        qualified,
        release_expired,
        unseen_anchors,
    )
    from calibrate.store.scoring import assessor_id, stored_version

    require(actor, "queue.score")
    key = _assessor_key(actor)
    rubrics = _rubrics(engine, actor, rubric)
    rules = {r.key: _rules(r) for r in rubrics}
    now = _now(at)
    with writing(engine) as conn:
        release_expired(conn, now)
        who = assessor_id(conn, key)
        versions = {r.key: stored_version(conn, r) for r in rubrics}
        if not versions:
            return _nothing([Reason("no rubric", None, "your issuer has no rubric to score")])
        keys = {v.id: k for k, v in versions.items()}
        mine = held(conn, who, list(keys))
        if mine is not None:
            return _next(conn, mine, keys[mine.version_id])
        standing = {
            k: qualified(conn, who, versions[k].id, now, rules[k].qualification.valid_days)
            for k in versions
        }
        eligible = [versions[k].id for k, s in standing.items() if s.ok]
        not_eligible = [
            Reason(cast(NoItem, s.status), k, s.reason) for k, s in standing.items() if not s.ok
        ]
        if not eligible:
            return _nothing(not_eligible)
        strict = [v for v in eligible if rules[keys[v]].resubmission.different_assessor]
        for found in candidates(conn, who, eligible, strict=strict, limit=_CANDIDATES):
            live = rules[keys[found.version_id]].live
            due = now + timedelta(days=live.assignment_timeout_days)
            if secrets.SystemRandom().random() < live.validity_rate:
                unseen = unseen_anchors(conn, who, found.version_id, "validity")
                if unseen and assign(
                    conn,
                    handle=_handle(),
                    assessor=who,
                    version=found.version_id,
                    target=("a", unseen[secrets.randbelow(len(unseen))]),
                    reading=None,
                    at=now,
                    due=due,
                ):
                    break
            if found.free and assign(
                conn,
                handle=_handle(),
                assessor=who,
                version=found.version_id,
                target=("s", found.submission_id),
                reading=found.free[0],
                at=now,
                due=due,
            ):
                break
        else:
            waiting = [
                Reason("nothing waiting", keys[v], f"nothing waiting for you on {keys[v]}")
                for v in eligible
            ]
            names = ", ".join(keys[v] for v in eligible)
            return _nothing(
                [*waiting, *not_eligible],
                "; ".join(
                    [f"nothing waiting for you on {names}: come back later"]
                    + [r.text for r in not_eligible]
                ),
            )
        mine = held(conn, who, [found.version_id])
        assert mine is not None
        return _next(conn, mine, keys[mine.version_id])


def queue_view(*, engine: Engine, actor: Actor, handle: str) -> QueueItem:
    """An open item of the acting assessor's queue as :func:`queue_next` gave it (its rubric,
    its artifact, its times), the same for either kind.

    Raises
    ------
    CalibrateError
        Not an open item of the actor's queue.
    """
    from calibrate.store.engine import reading
    from calibrate.store.queue import version_rubric

    require(actor, "queue.score")
    with reading(engine) as conn:
        found = _own_open(conn, actor, handle)
        item = _next(conn, found, version_rubric(conn, found.version_id).key).item
    assert item is not None
    return item


def _own_open(conn: Connection, actor: Actor, handle: object) -> Assignment:
    """The actor's assignment ``handle``, open; anyone else's is "no such"."""
    from calibrate.store.queue import TIMED_OUT, assignment_by_handle, existing_assessor

    key = _assessor_key(actor)
    found = assignment_by_handle(conn, handle) if isinstance(handle, str) else None
    if found is None or found.assessor_id != existing_assessor(conn, key):
        raise CalibrateError(f"no submission {handle!r:.40} in your queue")
    if found.finished_at is not None:
        raise CalibrateError(f"submission {handle} is scored already: a reading is final")
    if found.released_at is not None:
        reason = found.released_reason or ""
        if reason.startswith(TIMED_OUT):
            days = round((found.due_at - found.assigned_at) / timedelta(days=1))
            raise CalibrateError(
                f"this submission went back to the queue after {days} days without scores; "
                "take the next one"
            )
        raise CalibrateError(
            f"this submission went back to the queue ({reason}); take the next one"
        )
    return found


def queue_score(
    *,
    engine: Engine,
    actor: Actor,
    handle: str,
    scores: Mapping[str, int],
    comment: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record the acting assessor's scores of an item of their queue (a level per criterion
    of the rubric, and an optional comment), the same way and with the same receipt for a live
    submission and a validity anchor.

    A submission whose readings are all in is resolved (:func:`calibrate.workflow.
    resolve_readings`): one reading or an agreeing pair gives its result; a discrepant pair
    waits for adjudication.

    Validity misses are evaluated here, at the scoring of a live submission, never at the
    scoring of an anchor: counted over the assessor's last ``live.validity_window`` validity
    readings on the version finished before it (since their last reinstatement there), at
    least ``live.validity_misses`` of them missed (:func:`calibrate.workflow.missed`) suspend
    the assessor from live scoring on that version. So a suspension never follows the item
    that was an anchor, and does not tell which one it was.

    Returns
    -------
    dict
        ``handle``, ``recorded`` (criteria scored), ``at``.

    Raises
    ------
    CalibrateError
        Not an open item of the actor's queue (scored already, or back in the queue after
        its time ran out or it was given back); scores not a level for every criterion; a
        comment longer than :data:`MAX_TEXT` characters or holding control characters.
    """
    from calibrate.store.engine import writing
    from calibrate.store.queue import finish, version_rubric
    from calibrate.store.scoring import record_scores, stored_version

    require(actor, "queue.score")
    note = _text(comment, "comment")
    now = _now(at)
    with writing(engine) as conn:
        found = _own_open(conn, actor, handle)
        rubric = version_rubric(conn, found.version_id)
        version = stored_version(conn, rubric)
        reading = check_scores(scores, rubric)
        by_key = dict(zip(rubric.criterion_ids, reading.tolist(), strict=True))
        anchor = found.anchor_id is not None
        target_id = found.anchor_id if anchor else found.submission_id
        assert target_id is not None
        record_scores(
            conn,
            assessor=found.assessor_id,
            version=version,
            scores=by_key,
            target=("a" if anchor else "s", target_id),
            context="validity" if anchor else "live",
            at=now,
            recorded_by=actor.name,
            action="queue.score",
            subject=f"assignment {handle}",
        )
        finish(conn, found.id, at=now, comment=note)
        if found.submission_id is not None:
            rules = _rules(rubric)
            _resolve(conn, found.submission_id, rubric, rules, now)
            _check_validity(
                conn, found.assessor_id, _assessor_key(actor), version, rubric, rules, now
            )
    return {"handle": handle, "recorded": len(by_key), "at": now.isoformat()}


def _matrix(readings: list[Reading], rubric: Rubric) -> IntArray:
    return np.array([[r.scores[c] for c in rubric.criterion_ids] for r in readings], dtype=np.int64)


def _resolve(
    conn: Connection, submission: int, rubric: Rubric, rules: ProgrammeRules, now: datetime
) -> None:
    """Give a submission its result once its readings are all in and agree."""
    from calibrate.store.queue import add_result, readings_of, submission_by_id

    needed = submission_by_id(conn, submission).readings or 1
    readings = readings_of(conn, [submission])[submission]
    if len(readings) < needed:
        return
    resolution = resolve_readings(_matrix(readings, rubric), rubric, rules.adjudication)
    if resolution is None:
        return
    add_result(
        conn,
        submission=submission,
        scores=dict(zip(rubric.criterion_ids, resolution.scores.tolist(), strict=True)),
        passed=resolution.passed,
        rule=resolution.rule,
        decided_by="rule",
        at=now,
    )


def _levels(n: int) -> str:
    return "one level" if n == 1 else f"{n} levels"


def _check_validity(
    conn: Connection,
    assessor: int,
    key: str,
    version: StoredVersion,
    rubric: Rubric,
    rules: ProgrammeRules,
    now: datetime,
) -> None:
    """Suspend an assessor whose recent validity readings miss too often (see
    :func:`queue_score`)."""
    from calibrate.store.calibration import active_suspension
    from calibrate.store.queue import last_lifted, validity_readings
    from calibrate.store.scoring import anchors_by_id

    live, rule = rules.live, rules.adjudication
    if live.validity_misses <= 0 or active_suspension(conn, assessor, version.id) is not None:
        return
    recent = validity_readings(
        conn,
        assessor,
        version.id,
        since=last_lifted(conn, assessor, version.id),
        limit=live.validity_window,
    )
    experts = {a.id: a.expert for a in anchors_by_id(conn, [a for a, _ in recent])}
    ids = rubric.criterion_ids
    misses = sum(
        missed([s[c] for c in ids], [experts[a][c] for c in ids], rubric, rule) for a, s in recent
    )
    if misses < live.validity_misses:
        return
    decision = " or reached another pass decision" if rule.on_decision else ""
    reason = (
        f"{misses} of your last {len(recent)} checks against expert scores were more than "
        f"{_levels(rule.max_gap)} off{decision}"
    )
    _suspend(
        conn, assessor, key, version, rubric, kind="validity", reason=reason, by="rule", at=now
    )


def _suspend(
    conn: Connection,
    assessor: int,
    key: str,
    version: StoredVersion,
    rubric: Rubric,
    *,
    kind: str,
    reason: str,
    by: str,
    at: datetime,
) -> dict[str, Any]:
    """Suspend, give the assessor's open items on the version back, and audit it."""
    from calibrate.store.audit import append_event
    from calibrate.store.queue import release_open, suspend

    suspend(conn, assessor=assessor, version=version.id, kind=kind, reason=reason, at=at, by=by)
    released = release_open(
        conn,
        assessor,
        version.id,
        at=at,
        reason=f"you were suspended from live scoring on {rubric.key}",
    )
    detail = {"assessor": key, "rubric": rubric.key, "kind": kind, "reason": reason}
    append_event(
        conn,
        actor=by,
        action="qualification.suspend",
        issuer=version.issuer,
        subject=f"assessor {key}",
        detail={**detail, "released": released},
    )
    return {**detail, "started_at": at.isoformat(), "started_by": by}


def queue_release(*, engine: Engine, actor: Actor, handle: str, reason: str) -> dict[str, Any]:
    """Give an item of the acting assessor's queue back (a conflict of interest, no time): it
    goes to another assessor, never back to them.

    Raises
    ------
    CalibrateError
        Not an open item of the actor's queue; no reason.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.engine import writing
    from calibrate.store.queue import give_back, version_rubric
    from calibrate.store.scoring import stored_version

    require(actor, "queue.score")
    why = _reason(reason, "the reason for giving it back")
    now = _now(None)
    with writing(engine) as conn:
        found = _own_open(conn, actor, handle)
        give_back(conn, found.id, at=now, reason=why)
        version = stored_version(conn, version_rubric(conn, found.version_id))
        append_event(
            conn,
            actor=actor.name,
            action="queue.release",
            issuer=version.issuer,
            subject=f"assignment {handle}",
            detail={"reason": why},
        )
    return {"handle": handle, "released_at": now.isoformat()}


# --- adjudication ---------------------------------------------------------------------------------


def _pair(readings: list[Reading], rubric: Rubric, rules: ProgrammeRules) -> dict[str, Any]:
    """Both readings of a pair side by side, with where they part."""
    s = _matrix(readings, rubric)
    passed = rubric.passes(s)
    gap = np.abs(s[0] - s[-1])
    return {
        "readings": [
            {
                "reading": r.reading,
                "assessor": r.assessor,
                "scores": {c: r.scores[c] for c in rubric.criterion_ids},
                "passed": bool(p),
                "comment": r.comment,
                "finished_at": r.finished_at.isoformat(),
            }
            for r, p in zip(readings, passed, strict=True)
        ],
        "criteria_apart": [
            c
            for c, g in zip(rubric.criterion_ids, gap, strict=True)
            if g > rules.adjudication.max_gap
        ],
        "decisions_differ": bool(len(set(passed.tolist())) > 1),
    }


def adjudications(
    *, engine: Engine, actor: Actor, rubric: str | None = None
) -> list[dict[str, Any]]:
    """The discrepant pairs waiting for a lead assessor of the issuer (both readings in, no
    result), oldest received first, without those the lead read: per submission its key,
    rubric, artifact, time received, both readings (assessor, scores, pass decision, comment,
    time), the criteria more than ``adjudication.max_gap`` levels apart and whether the
    decisions differ.

    Raises
    ------
    AccessDenied
        Not a lead assessor.
    """
    from calibrate.store.engine import reading
    from calibrate.store.queue import readings_of, received, results_of
    from calibrate.store.scoring import stored_version

    require(actor, "adjudication.resolve")
    rubrics = _rubrics(engine, actor, rubric)
    out = []
    with reading(engine) as conn:
        for found in rubrics:
            rules = _rules(found)
            version = stored_version(conn, found)
            waiting = received(conn, [version.id])
            decided = results_of(conn, [s.id for s in waiting])
            pending = [s for s in waiting if s.id not in decided]
            read = readings_of(conn, [s.id for s in pending])
            for s in pending:
                pair = read[s.id]
                if len(pair) < (s.readings or 1) or any(r.assessor == actor.assessor for r in pair):
                    continue
                out.append(
                    {
                        "submission": s.key,
                        "rubric": s.rubric,
                        "artifact": s.artifact,
                        "received_at": _iso(s.received_at),
                        **_pair(pair, found, rules),
                    }
                )
    return out


def _in_scope(conn: Connection, actor: Actor, submission: object) -> StoredSubmission:
    """A received submission of the actor's issuers; any other is "no such"."""
    from calibrate.store.queue import submission_by_key

    found = submission_by_key(conn, submission) if isinstance(submission, str) else None
    if (
        found is None
        or found.received_at is None
        or found.issuer is None
        or not actor.sees_issuer(found.issuer)
    ):
        raise CalibrateError(f"no submission {submission!r:.60}")
    return found


def adjudicate(
    *,
    engine: Engine,
    actor: Actor,
    submission: str,
    scores: Mapping[str, int],
    reason: str,
) -> dict[str, Any]:
    """Resolve a discrepant pair with the lead's third reading and a reason
    (:func:`calibrate.workflow.resolve_adjudication`: the third reading replaces both, or the
    mean of the two closest readings, rounded half up, by rule
    ``adjudication.third_reader_replaces``); the pass decision follows the rubric's pass rule.

    Returns
    -------
    dict
        ``submission``, ``scores``, ``passed``, ``rule``, ``decided_by``, ``decided_at``.

    Raises
    ------
    AccessDenied
        Not a lead assessor.
    CalibrateError
        No such submission in the lead's issuer; not waiting for adjudication (resolved
        already, by whom; or still being scored); read by this lead; no reason; scores not a
        level for every criterion.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.engine import writing
    from calibrate.store.queue import add_result, readings_of, results_of, version_rubric
    from calibrate.store.scoring import stored_version

    require(actor, "adjudication.resolve")
    why = _reason(reason, "the reason of an adjudication")
    now = _now(None)
    with writing(engine) as conn:
        found = _in_scope(conn, actor, submission)
        rubric = version_rubric(conn, found.version_id)
        version = stored_version(conn, rubric)

        def resolved_already() -> CalibrateError:
            done = results_of(conn, [found.id])[found.id]
            return CalibrateError(
                f"submission {found.key} is already resolved by {done.decided_by} "
                f"({done.rule}, {done.decided_at:%Y-%m-%d %H:%M} UTC)"
            )

        if found.id in results_of(conn, [found.id]):
            raise resolved_already()
        pair = readings_of(conn, [found.id])[found.id]
        if len(pair) < 2:
            raise CalibrateError(
                f"submission {found.key} is not waiting for adjudication: it is still being scored"
            )
        if any(r.assessor == actor.assessor for r in pair):
            raise CalibrateError(
                f"you read submission {found.key} yourself: another lead assessor adjudicates it"
            )
        third = check_scores(scores, rubric)
        rules = _rules(rubric)
        first, second = _matrix(pair, rubric)
        resolution = resolve_adjudication(first, second, third, rubric, rules.adjudication)
        final = dict(zip(rubric.criterion_ids, resolution.scores.tolist(), strict=True))
        lead = dict(zip(rubric.criterion_ids, third.tolist(), strict=True))
        if not add_result(
            conn,
            submission=found.id,
            scores=final,
            passed=resolution.passed,
            rule=resolution.rule,
            decided_by=actor.name,
            at=now,
            third_reading=lead,
            reason=why,
        ):
            raise resolved_already()
        append_event(
            conn,
            actor=actor.name,
            action="adjudication.resolve",
            issuer=version.issuer,
            subject=f"submission {found.key}",
            detail={
                "rubric": rubric.key,
                "third_reading": lead,
                "scores": final,
                "passed": resolution.passed,
                "rule": resolution.rule,
                "reason": why,
            },
        )
    return {
        "submission": found.key,
        "scores": final,
        "passed": resolution.passed,
        "rule": resolution.rule,
        "decided_by": actor.name,
        "decided_at": now.isoformat(),
    }


# --- results and suspensions ----------------------------------------------------------------------


def results(*, engine: Engine, actor: Actor, rubric: str | None = None) -> list[dict[str, Any]]:
    """Every submission entered for live scoring on the actor's issuers' rubric versions (or
    one), oldest received first, with its status (``waiting``, ``in scoring``, ``awaiting
    adjudication``, ``decided``) and current result.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    """
    from calibrate.store.engine import reading
    from calibrate.store.queue import open_counts, readings_of, received, results_of
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    rubrics = _rubrics(engine, actor, rubric)
    out = []
    with reading(engine) as conn:
        for found in rubrics:
            version = stored_version(conn, found)
            subs = received(conn, [version.id])
            ids = [s.id for s in subs]
            decided, read, held = (
                results_of(conn, ids),
                readings_of(conn, ids),
                open_counts(conn, ids),
            )
            for s in subs:
                done = len(read[s.id])
                if s.id in decided:
                    status = "decided"
                elif done >= (s.readings or 1):
                    status = "awaiting adjudication"
                elif done or held[s.id]:
                    status = "in scoring"
                else:
                    status = "waiting"
                result = decided.get(s.id)
                out.append(
                    {
                        "submission": s.key,
                        "rubric": s.rubric,
                        "earner": s.earner,
                        "attempt": s.attempt,
                        "received_at": _iso(s.received_at),
                        "readings": s.readings,
                        "scored": done,
                        "status": status,
                        "result": None if result is None else result.to_dict(),
                    }
                )
    return out


def suspensions(*, engine: Engine, actor: Actor, rubric: str | None = None) -> list[dict[str, Any]]:
    """The suspensions from live scoring on the actor's issuers' rubric versions (or one), in
    force and lifted, newest first.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    """
    from calibrate.store.engine import reading
    from calibrate.store.queue import suspensions_on
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    rubrics = _rubrics(engine, actor, rubric)
    with reading(engine) as conn:
        versions = [stored_version(conn, r).id for r in rubrics]
        return [s.to_dict() for s in suspensions_on(conn, versions)]


def _scoped_assessor(conn: Connection, assessor: object) -> int:
    from calibrate.store.queue import existing_assessor

    found = existing_assessor(conn, assessor) if isinstance(assessor, str) else None
    if found is None:
        raise CalibrateError(f"no assessor {assessor!r:.60} in the store")
    return found


def suspend(
    *, engine: Engine, actor: Actor, assessor: str, rubric: str, reason: str
) -> dict[str, Any]:
    """Suspend an assessor from live scoring on a rubric version of the actor's issuer, with a
    reason the assessor reads in their queue; their open items there go back to the queue.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    CalibrateError
        No reason; an unknown assessor or rubric; suspended already.
    """
    from calibrate.store.calibration import active_suspension
    from calibrate.store.engine import writing
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    why = _reason(reason, "the reason of a suspension")
    (found,) = _rubrics(engine, actor, rubric)
    now = _now(None)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        who = _scoped_assessor(conn, assessor)
        already = active_suspension(conn, who, version.id)
        if already is not None:
            raise CalibrateError(
                f"{assessor} is suspended on {found.key} already (since "
                f"{already[0]:%Y-%m-%d}: {already[1]})"
            )
        return _suspend(
            conn, who, assessor, version, found, kind="manual", reason=why, by=actor.name, at=now
        )


def suspend_flagged(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    until: date | None = None,
    days: int | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Apply the flags to the workflow: every assessor with a flag of a kind the rubric's
    rules have suspend (``flags.suspend_<kind>``) is suspended from live scoring on the rubric,
    the flags' reasons as the suspension's reason, their open items given back; an assessor
    suspended already is left as is. The flags are those of
    :func:`calibrate.services.monitoring.assessor_flags` over the same window.

    Returns
    -------
    list of dict
        One per flagged assessor of a suspending kind: ``assessor``, ``kinds``, ``reason``
        and ``action`` (``"suspended"`` or ``"suspended already"``).

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    CalibrateError
        As :func:`~calibrate.services.monitoring.assessor_flags`.
    """
    from calibrate.flags import suspending_kind
    from calibrate.services.monitoring import assessor_flags
    from calibrate.store.calibration import active_suspension
    from calibrate.store.engine import writing
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    (found,) = _rubrics(engine, actor, rubric)
    on = _rules(found).flags.suspend
    report = assessor_flags(
        engine=engine, actor=actor, rubric=found.key, until=until, days=days, progress=progress
    )
    chosen: dict[str, list[Flag]] = {}
    for flag in report.flags:
        if suspending_kind(flag.kind) in on:
            chosen.setdefault(flag.assessor, []).append(flag)
    done: list[dict[str, Any]] = []
    if not chosen:
        return done
    now = _now(None)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        for name, flags in sorted(chosen.items()):
            kinds = sorted({f.kind for f in flags})
            reason = " ".join(f"Flagged {f.kind}: {f.reason}" for f in flags)
            who = _scoped_assessor(conn, name)
            row = {"assessor": name, "kinds": kinds, "reason": reason}
            if active_suspension(conn, who, version.id) is not None:
                done.append({**row, "action": "suspended already"})
                continue
            _suspend(
                conn, who, name, version, found, kind="flag", reason=reason, by=actor.name, at=now
            )
            done.append({**row, "action": "suspended"})
    return done


def reinstate(
    *, engine: Engine, actor: Actor, assessor: str, rubric: str, reason: str
) -> dict[str, Any]:
    """Lift an assessor's suspension on a rubric version of the actor's issuer, with a reason.
    Validity misses before it no longer count towards a suspension.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator.
    CalibrateError
        No reason; an unknown assessor or rubric; not suspended.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.engine import writing
    from calibrate.store.queue import lift
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    why = _reason(reason, "the reason of a reinstatement")
    (found,) = _rubrics(engine, actor, rubric)
    now = _now(None)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        who = _scoped_assessor(conn, assessor)
        if not lift(conn, who, version.id, at=now, by=actor.name, reason=why):
            raise CalibrateError(f"{assessor} is not suspended on {found.key}")
        append_event(
            conn,
            actor=actor.name,
            action="qualification.reinstate",
            issuer=version.issuer,
            subject=f"assessor {assessor}",
            detail={"assessor": assessor, "rubric": found.key, "reason": why},
        )
    return {
        "assessor": assessor,
        "rubric": found.key,
        "lifted_at": now.isoformat(),
        "lifted_by": actor.name,
        "lift_reason": why,
    }


__all__ = [
    "QueueItem",
    "QueueNext",
    "add_submission",
    "adjudicate",
    "adjudications",
    "queue_next",
    "queue_release",
    "queue_score",
    "reinstate",
    "results",
    "suspend",
    "suspensions",
]
