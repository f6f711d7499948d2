"""The demo's current term: the calibration workflow played through the services, on top of
the simulated historical term (issue 11, part 8).

``calibrate demo`` imports a simulated programme, the historical term that the analyses pages
read. :func:`play_workflow` then plays the six weeks before now through the services the
command line and the dashboard call, each step backdated with ``at=``:

- **calibration** (from six weeks ago): about ten assessors of the programme's pool per rubric
  (:data:`PER_RUBRIC`; ``truth.assessors``, each with their planted effect), those who scored
  it last term first, practise and take qualification rounds, a retake after a failed round
  (:data:`ROUNDS`); a quarter of them have only practised so far.
- **live scoring** (the last three weeks): 4 to 6 submissions per simulated assessor of the
  rubric arrive, and a third of the earners told "Not yet" resubmit; the qualified assessors
  work their queues in sessions, each evening setting the next day's readings so that about
  :data:`DECIDED_SHARE` of the work is decided and the rest waits, is in scoring or awaits
  adjudication. The services draw double scoring and seed validity anchors by the rules.
- **adjudication and a suspension**: discrepant pairs wait for a lead assessor, at least
  :data:`PENDING_PAIRS` of them, none read by demo-lead (more readings at the end, strongly
  apart, where fewer arose); one assessor is suspended from live scoring: by the validity rule
  when it fired, otherwise (at the default seeding rate an assessor meets too few validity
  anchors in three weeks for the rule to fire) by demo-admin, the reason citing the evidence.
- **the demo accounts**: demo-assessor has practised once on crsel-intro (a round may start
  now) and is qualified on ct-unplugged, where submissions wait in their queue (they scored
  three a week ago); demo-lead is qualified on crsel-intro.

Where an assessor cannot start a round on a rubric (one of theirs is open), the simulated
assessors are drawn from the others, and a demo account gets the next rubric after the
preferred one (:data:`PREFERRED`); the report names the rubrics of the accounts.

Simulated scoring uses the simulator's rating model (:func:`calibrate.simulate._rate`, the
rating-scale many-facet Rasch model of the historical term) with the assessor's planted
severity, noise, spread, halo and differential criterion (at the same place in another rubric)
and, for a drifting assessor, their severity after the drift; the work is located at the
experts' scores, as the simulator locates anchors. The demo has no teachers' work: a live
submission carries the artifact of one of its rubric's anchors (practice, qualification or
validity alike, so that the text does not tell a seeded validity anchor from live work), and
its "true" scores are that anchor's expert scores. The demo tells what it handed out from its
own store (:func:`_handed_out`), never from anything the assessor receives.

Ratings, rounds, assignments, submissions and results carry backdated times; the audit log
records when the demo was built (it takes no time from the caller), and so does the
suspension by demo-admin. The services draw round anchors, double scoring and seeding with the
system's randomness, so two builds differ in detail but not in shape.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from calibrate.access import Actor, require
from calibrate.errors import CalibrateError
from calibrate.rubric import Rubric
from calibrate.rules import AdjudicationRule, ProgrammeRules
from calibrate.simulate import EFFECTS, AssessorTruth, Programme, _Pool, _rate
from calibrate.workflow import missed

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.services.queue import QueueItem

ISSUER = "demo"
PREFERRED = {
    "practice": "crsel-intro@1",
    "queue": "ct-unplugged@1",
    "lead": "crsel-intro@1",
}
"""The rubric on which demo-assessor practises, the one whose queue they work, and the one
demo-lead is qualified on (another one where the account's assessor cannot start a round)."""
PER_RUBRIC = 10
"""Simulated assessors per rubric (fewer when the pool is small)."""
ROUNDS = 2
"""Qualification rounds a simulated assessor takes this term, at most (a third, which the
rules allow, is left to take)."""
CALIBRATION_DAYS = 42
"""The current term starts this many days before now."""
LIVE_DAYS = 21
"""Live submissions arrive over the last this many days."""
LAST_HOURS = 6
"""The live weeks end this many hours before now; the last readings (:func:`_suspension`)
follow."""
DECIDED_SHARE = 0.7
"""The share of the live work the simulated assessors get through."""
PENDING_PAIRS = 3
"""Discrepant pairs left waiting for demo-lead, at least."""
EVIDENCE = 2
"""Validity misses and discrepant pairs, together, that the demo's suspension cites at least."""
FORCED = 40
"""Items, at most, read at the end to leave :data:`PENDING_PAIRS` pairs for demo-lead."""
PROBLEM_EFFECTS = ("lenient", "drift", "inconsistent", "severe", "halo", "central",
                   "differential")  # fmt: skip
"""Planted effects, in the order the demo looks for the assessor to suspend."""

Progress = Callable[[int, int, str], None]
Key = tuple[str, str]  # an artifact's (title, excerpt)


# --- what the demo holds ------------------------------------------------------------------


@dataclass(frozen=True)
class RubricTerm:
    """The current term on one rubric version, counted at the end of the build.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    assessors : int
        Assessors of the current term on it (the simulated ones and demo accounts).
    qualified, not_qualified, suspended : int
        Their standing now (``not_qualified`` counts those who only practised, failed or
        have not taken a round).
    submissions, resubmissions : int
        Submissions entered for live scoring, and those of them that are attempt 2 or later.
    decided, waiting, in_scoring, awaiting_adjudication : int
        Submissions by status (:func:`calibrate.services.queue.results`).
    double_scored : int
        Submissions drawn for two readings.
    validity_served : int
        Validity anchors handed out in the simulated assessors' queues.
    """

    rubric: str
    assessors: int
    qualified: int
    not_qualified: int
    suspended: int
    submissions: int
    resubmissions: int
    decided: int
    waiting: int
    in_scoring: int
    awaiting_adjudication: int
    double_scored: int
    validity_served: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkflowReport:
    """What :func:`play_workflow` left in the store.

    Attributes
    ----------
    rubrics : tuple of RubricTerm
        Per rubric version, in key order.
    accounts : dict
        What each demo account finds, by user name: the rubric keys of ``practice``,
        ``queue`` (demo-assessor) and ``qualified`` (demo-lead), and ``adjudications``
        waiting for demo-lead.
    suspension : dict or None
        The suspension in force: ``assessor``, ``rubric``, ``kind``, ``reason``.
    """

    rubrics: tuple[RubricTerm, ...]
    accounts: dict[str, dict[str, Any]]
    suspension: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rubrics": [r.to_dict() for r in self.rubrics],
            "accounts": self.accounts,
            "suspension": self.suspension,
        }


# --- how a simulated assessor scores ---------------------------------------------------------


class _Scorer:
    """Readings of one rubric by the assessors given: the simulator's rating model with their
    planted effects (see the module's notes)."""

    def __init__(
        self,
        programme: Programme,
        rubric: Rubric,
        assessors: Sequence[AssessorTruth],
        rng: np.random.Generator,
    ) -> None:
        truth = {r.rubric: r for r in programme.truth.rubrics}
        self.rubric, self.rng = rubric, rng
        self.low = rubric.scores[0]
        k, step = len(rubric.levels), programme.config.threshold_step
        self.centre = np.asarray(step * (np.arange(k) - (k - 1) / 2), dtype=np.float64)
        self.tau = np.asarray(truth[rubric.key].thresholds, dtype=np.float64)
        self.index = {a.id: j for j, a in enumerate(assessors)}
        n_criteria = len(rubric.criteria)
        column = []
        for a in assessors:
            before = list(truth[a.rubric].difficulty) if a.rubric in truth else []
            c = a.differential_criterion
            if c is None:
                column.append(-1)
            elif c in rubric.criterion_ids:
                column.append(rubric.criterion_ids.index(c))
            else:  # the same place in the new rubric
                column.append((before.index(c) if c in before else 0) % n_criteria)
        drift = np.array([a.drift_date is not None for a in assessors], dtype=bool)

        def floats(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
            return np.asarray(values, dtype=np.float64)

        n = len(assessors)
        self.pool = _Pool(
            rubric=np.zeros(n, dtype=np.int64),
            effect=np.asarray([EFFECTS.index(a.effect) for a in assessors], dtype=np.int64),
            severity=floats([a.severity for a in assessors]),
            noise_sd=floats([a.noise_sd for a in assessors]),
            spread=floats([a.spread for a in assessors]),
            halo=floats([a.halo for a in assessors]),
            drift_at=np.where(drift, -np.inf, np.inf),  # the drift happened last term
            drift_shift=floats([a.drift_shift for a in assessors]),
            diff_criterion=np.asarray(column, dtype=np.int64),
            diff_shift=floats([a.differential_shift for a in assessors]),
            capacity=np.ones(n),
        )

    def read(self, assessor: str, expert: Mapping[str, int]) -> dict[str, int]:
        """One reading of work the experts scored ``expert``."""
        ids = self.rubric.criterion_ids
        level = np.array([[expert[c] - self.low for c in ids]], dtype=np.int64)
        who = np.array([self.index[assessor]], dtype=np.int64)
        k = _rate(self.rng, self.centre[level], who, np.zeros(1), self.pool, self.tau)
        return {c: int(v) + self.low for c, v in zip(ids, k[0].tolist(), strict=True)}


# --- the play ------------------------------------------------------------------------------


@dataclass
class _Reader:
    """An assessor working on one rubric this term: simulated, or a demo account."""

    key: str
    rubric: str
    effect: str
    actor: Actor
    qualified_at: datetime | None = None
    holding: bool = False  # an item handed out and not scored yet
    served: int = 0  # validity anchors scored
    misses: int = 0  # ... of them missed (calibrate.workflow.missed)


@dataclass
class _Term:
    """The demo's own bookkeeping of the term: the simulation's truth, never the services'."""

    engine: Engine
    operator: Actor
    admin: Actor
    lead: Actor
    rubrics: dict[str, Rubric]
    rules: dict[str, ProgrammeRules] = field(default_factory=dict)
    scorers: dict[str, _Scorer] = field(default_factory=dict)
    # rubric -> artifact (title, excerpt) -> expert scores of its anchors
    anchors: dict[str, dict[Key, dict[str, int]]] = field(default_factory=dict)
    # rubric -> its anchors' artifacts and expert scores, lent to live submissions
    templates: dict[str, list[tuple[dict[str, str], dict[str, int]]]] = field(default_factory=dict)
    truth: dict[str, dict[str, int]] = field(default_factory=dict)  # submission key -> scores
    served: Counter[str] = field(default_factory=Counter)  # validity anchors handed out
    numbers: Counter[str] = field(default_factory=Counter)  # submissions entered, per rubric
    earners: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _artifact_key(artifact: Mapping[str, str | None]) -> Key:
    return (str(artifact.get("title") or ""), str(artifact.get("excerpt") or ""))


def _played(engine: Engine, admin: Actor) -> bool:
    """Whether the store holds workflow state of the demo issuer already: a submission entered
    for live scoring or a finished qualification round."""
    from calibrate.services.calibration import qualifications
    from calibrate.services.queue import results

    if results(engine=engine, actor=admin):
        return True
    return any(
        r["finished_at"] is not None
        for q in qualifications(engine=engine, actor=admin)
        for r in q.rounds
    )


def play_workflow(
    programme: Programme,
    *,
    engine: Engine,
    actor: Actor,
    now: datetime,
    rng: np.random.Generator,
    progress: Progress | None = None,
) -> WorkflowReport | None:
    """Play the current term of the demo issuer through the services, backdated to the weeks
    before ``now`` (see the module's notes), once: None when the store holds workflow state
    of the issuer already (then nothing is added).

    ``programme`` is the demo's simulated programme, imported with the demo accounts
    (:func:`calibrate.services.demo.store_demo`); ``rng`` drives the simulated readings and
    the timetable; ``actor`` (the operator) enters the submissions.

    Raises
    ------
    AccessDenied
        Not the operator.
    CalibrateError
        The demo accounts or the demo issuer's rubrics are missing.
    """
    from calibrate.services.accounts import actor_of
    from calibrate.services.calibration import qualifications
    from calibrate.services.rules import programme_rules
    from calibrate.store.accounts import find_account
    from calibrate.store.definitions import stored_rubrics

    require(actor, "demo.build")
    admin = Actor("demo-admin", "admin", issuer=ISSUER)
    if _played(engine, admin):
        return None
    found = [find_account(engine=engine, username=u) for u in ("demo-assessor", "demo-lead")]
    you, lead = (None if a is None else actor_of(a) for a in found)
    if you is None or lead is None or you.assessor is None or lead.assessor is None:
        raise CalibrateError("the demo accounts demo-assessor and demo-lead are not in the store")
    rubrics = {r.key: r for r in stored_rubrics(engine=engine, issuers=admin.issuers)}
    if not rubrics:
        raise CalibrateError(f"issuer {ISSUER!r} has no rubric in the store")
    term = _Term(engine, actor, admin, lead, rubrics)
    term.rules = {key: programme_rules(rubric=r) for key, r in rubrics.items()}
    # who cannot start a round where: one of theirs is open
    blocked = {
        key: {
            q.assessor
            for q in qualifications(engine=engine, actor=admin, rubric=key, at=now)
            if q.eligibility.open_round is not None
        }
        for key in rubrics
    }

    def free(who: str, preferred: str, *, but: str | None = None) -> str | None:
        return next(
            (
                k
                for k in [preferred, *sorted(rubrics)]
                if k in rubrics and k != but and who not in blocked[k]
            ),
            None,
        )

    practice_on = free(you.assessor, PREFERRED["practice"])
    queue_on = free(you.assessor, PREFERRED["queue"], but=practice_on)
    lead_on = free(lead.assessor, PREFERRED["lead"])

    truth = {a.id: a for a in programme.truth.assessors}
    pool = [a for a in programme.truth.assessors if a.id not in (you.assessor, lead.assessor)]
    per = max(2, min(PER_RUBRIC, len(pool) // len(rubrics)))
    chosen: dict[str, list[AssessorTruth]] = {}
    used: set[str] = set()
    # those who scored the rubric last term first (they requalify), then others who train on it
    for key in sorted(rubrics, key=lambda k: sum(a.rubric == k for a in pool)):
        fits = [a for a in pool if a.id not in used and a.id not in blocked[key]]
        shuffled = [fits[i] for i in rng.permutation(len(fits))]
        picked = sorted(shuffled, key=lambda a: a.rubric != key)[:per]
        chosen[key] = sorted(picked, key=lambda a: a.id)
        used.update(a.id for a in picked)

    _load_anchors(term)
    for key, rubric in rubrics.items():
        playing = [*chosen[key], *(truth[k] for k in (you.assessor, lead.assessor) if k in truth)]
        term.scorers[key] = _Scorer(programme, rubric, playing, rng)

    start = now - timedelta(days=CALIBRATION_DAYS)
    readers = _calibration(term, chosen, start, rng, progress)
    if practice_on is not None:  # practised once, ten days ago: a round may start now
        mine = _Reader(you.assessor, practice_on, "", you)
        _rounds(term, mine, now - timedelta(days=10), rng, rounds=0)
    for who, qualify_on in ((you, queue_on), (lead, lead_on)):
        if qualify_on is None:
            continue
        mine = _Reader(str(who.assessor), qualify_on, "", who)
        when = start + timedelta(days=float(rng.uniform(5, 9)))
        mine.qualified_at = _rounds(term, mine, when, rng, rounds=1, from_key=True)
        if who is you:
            readers.append(mine)  # scores a few submissions: My history shows live work
    _live(term, readers, you, now=now, rng=rng, progress=progress)
    suspension = _suspension(term, readers, avoid=queue_on, now=now, rng=rng)
    if progress is not None:
        progress(1, 1, "workflow: adjudications and a suspension")
    on_rubric = {key: {a.id for a in chosen[key]} for key in rubrics}
    for where, who in ((practice_on, you), (queue_on, you), (lead_on, lead)):
        if where is not None and who.assessor is not None:
            on_rubric[where].add(who.assessor)
    return WorkflowReport(
        rubrics=_count(term, on_rubric, now),
        accounts={
            "demo-assessor": {"practice": practice_on, "queue": queue_on},
            "demo-lead": {"qualified": lead_on, "adjudications": len(_pending(term))},
        },
        suspension=suspension,
    )


def _load_anchors(term: _Term) -> None:
    """Every anchor of the issuer's rubrics by artifact, with its answer key; all are lent to
    live submissions."""
    from calibrate.store.engine import reading
    from calibrate.store.scoring import anchor_pool, stored_version

    with reading(term.engine) as conn:
        for key, rubric in term.rubrics.items():
            version = stored_version(conn, rubric)
            term.anchors[key], term.templates[key] = {}, []
            for purpose in ("practice", "qualification", "validity"):
                for a in anchor_pool(conn, version.id, purpose):
                    term.anchors[key][_artifact_key(a.artifact)] = a.expert
                    term.templates[key].append((a.artifact, a.expert))


def _handed_out(term: _Term, handle: str) -> tuple[bool, dict[str, int]]:
    """Whether the queue item behind ``handle`` is a seeded validity anchor, and the experts'
    scores of its text: the demo reads its own store as the operator; the assessor's item
    says neither."""
    import sqlalchemy as sa

    from calibrate.store.engine import reading
    from calibrate.store.queue import SUBMISSION, assignment_by_handle
    from calibrate.store.scoring import anchors_by_id

    with reading(term.engine) as conn:
        held = assignment_by_handle(conn, handle)
        if held is None:
            raise CalibrateError(f"the demo handed out {handle!r} and cannot find it")
        if held.anchor_id is not None:
            return True, anchors_by_id(conn, [held.anchor_id])[0].expert
        key = conn.execute(
            sa.select(SUBMISSION.c.key).where(SUBMISSION.c.id == held.submission_id)
        ).scalar_one()
    return False, term.truth[str(key)]


def _minutes(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(minutes=float(rng.uniform(low, high)))


def _slip(rubric: Rubric, expert: Mapping[str, int]) -> dict[str, int]:
    """The experts' scores with one criterion one level off, the pass decision unchanged."""
    scores = {c: int(expert[c]) for c in rubric.criterion_ids}
    decision = rubric.passes([list(scores.values())])[0]
    for c in rubric.criterion_ids:
        for step in (1, -1):
            moved = {**scores, c: scores[c] + step}
            if moved[c] in rubric.scores and rubric.passes([list(moved.values())])[0] == decision:
                return moved
    return scores


def _rounds(
    term: _Term,
    reader: _Reader,
    when: datetime,
    rng: np.random.Generator,
    *,
    rounds: int,
    from_key: bool = False,
) -> datetime | None:
    """Practice, then a qualification round, again after a failed one, up to ``rounds``
    rounds (0: practice once); the time of the passed round, or None. The rounds are scored
    by the rating model, or (``from_key``, the demo accounts) from the answer key with one
    slip."""
    from calibrate.services.calibration import (
        practice_next,
        practice_score,
        round_score,
        round_start,
    )

    engine, actor, rubric = term.engine, reader.actor, reader.rubric
    scorer = term.scorers[rubric]
    t = when
    for n in range(max(rounds, 1)):
        for _ in range(1 if from_key or rounds == 0 else int(rng.integers(1, 3))):
            item = practice_next(engine=engine, actor=actor, rubric=rubric, at=t)
            t += _minutes(rng, 8, 25)
            expert = term.anchors[rubric][_artifact_key(item.artifact)]
            practice_score(engine=engine, actor=actor, attempt=item.attempt,
                           scores=scorer.read(reader.key, expert), at=t)  # fmt: skip
        if rounds == 0:
            return None
        t += timedelta(days=float(rng.uniform(1, 3)))
        view = round_start(engine=engine, actor=actor, rubric=rubric, at=t)
        for position, item in enumerate(view.items, start=1):
            expert = term.anchors[rubric][_artifact_key(item.artifact)]
            scores = (
                (_slip(scorer.rubric, expert) if position == 1 else dict(expert))
                if from_key
                else scorer.read(reader.key, expert)
            )
            t += _minutes(rng, 10, 25)
            view = round_score(engine=engine, actor=actor, attempt=view.attempt,
                               position=position, scores=scores, at=t)  # fmt: skip
        if view.result is not None and view.result.passed:
            return t
        if n + 1 < rounds:
            t += timedelta(days=float(rng.uniform(3, 6)))
    return None


def _calibration(
    term: _Term,
    chosen: Mapping[str, Sequence[AssessorTruth]],
    start: datetime,
    rng: np.random.Generator,
    progress: Progress | None,
) -> list[_Reader]:
    """Every simulated assessor practises and takes rounds until they pass or have taken
    :data:`ROUNDS` (a quarter of them have only practised so far)."""
    total = sum(len(v) for v in chosen.values())
    readers: list[_Reader] = []
    for key in sorted(chosen):
        limit = min(ROUNDS, term.rules[key].qualification.max_rounds)
        trainees = set(rng.permutation(len(chosen[key]))[: len(chosen[key]) // 4].tolist())
        for i, a in enumerate(chosen[key]):
            reader = _Reader(a.id, key, a.effect, Actor(a.id, "assessor", ISSUER, a.id))
            when = start + timedelta(days=float(rng.uniform(0, 6)))
            rounds = 0 if i in trainees else limit
            reader.qualified_at = _rounds(term, reader, when, rng, rounds=rounds)
            readers.append(reader)
            if progress is not None:
                progress(len(readers), total, "workflow: qualification rounds")
    return readers


def _live(
    term: _Term,
    readers: Sequence[_Reader],
    you: Actor,
    *,
    now: datetime,
    rng: np.random.Generator,
    progress: Progress | None,
) -> None:
    """Three weeks of live work, in time order: submissions arrive, the qualified assessors
    work their queues in sessions (demo-assessor once, a week ago), a third of the earners
    told "Not yet" resubmit within a week. Each evening sets the next day's readings so that
    about :data:`DECIDED_SHARE` of the work that has arrived is decided."""
    from calibrate.services.queue import queue_next, results

    opened, closed = now - timedelta(days=LIVE_DAYS), now - timedelta(hours=LAST_HOURS)
    rules = term.rules
    events: list[tuple[datetime, int, str, Any]] = []
    order = itertools.count()

    def at(moment: datetime, kind: str, data: Any) -> None:
        if moment < closed:
            heapq.heappush(events, (moment, next(order), kind, data))

    for key in sorted(term.rubrics):  # 4 to 6 submissions per simulated assessor
        n_assessors = sum(r.rubric == key and r.actor is not you for r in readers)
        n = int(rng.integers(4 * n_assessors, 6 * n_assessors + 1))
        for day in rng.uniform(0, LIVE_DAYS - 0.05, n):
            at(opened + timedelta(days=float(day)), "arrive", (key, None, None))
    for reader in readers:  # sessions of one to four items on about half the days
        if reader.qualified_at is None:
            continue
        if reader.actor is you:
            at(now - timedelta(days=7, hours=float(rng.uniform(0, 8))), "next", (reader, 3))
            continue
        for day in range(LIVE_DAYS):
            moment = opened + timedelta(days=day + float(rng.uniform(0, 1)))
            if rng.random() < 0.5 and moment > reader.qualified_at + timedelta(hours=12):
                at(moment, "next", (reader, int(rng.integers(1, 5))))
    for day in range(LIVE_DAYS):
        at(opened + timedelta(days=day), "evening", day)

    allowed: Counter[str] = Counter()
    resubmitted: set[str] = set()
    while events:
        t, _, kind, data = heapq.heappop(events)
        if kind == "arrive":
            key, previous, earner = data
            _enter(term, key, t, rng, previous=previous, earner=earner)
        elif kind == "next":
            reader, left = data
            if reader.holding or (reader.actor is not you and allowed[reader.rubric] <= 0):
                continue
            nxt = queue_next(engine=term.engine, actor=reader.actor, rubric=reader.rubric, at=t)
            if nxt.item is None:
                continue
            allowed[reader.rubric] -= 1
            reader.holding = True
            at(t + _minutes(rng, 10, 35), "score", (reader, nxt.item, left))
        elif kind == "score":
            reader, item, left = data
            _score(term, reader, item, t, rules[reader.rubric].adjudication)
            if left > 1:
                at(t + _minutes(rng, 1, 8), "next", (reader, left - 1))
        else:  # an evening: resubmissions, and the readings of the next day
            tomorrow = t + timedelta(days=1)
            for key in sorted(term.rubrics):
                found = results(engine=term.engine, actor=term.admin, rubric=key)
                coming = sum(e[2] == "arrive" and e[3][0] == key and e[0] < tomorrow
                             for e in events)  # fmt: skip
                done = sum(s["status"] in ("decided", "awaiting adjudication") for s in found)
                wanted = DECIDED_SHARE * (len(found) + coming) - done
                double = rules[key].live.double_share
                allowed[key] = max(0, round(wanted * (1 + double)))
                for s in found:
                    r = s["result"]
                    if (
                        r is None
                        or r["passed"]
                        or s["submission"] in resubmitted
                        or (s["attempt"] or 1) >= rules[key].resubmission.max_attempts
                    ):
                        continue
                    resubmitted.add(s["submission"])
                    if rng.random() < 1 / 3:
                        later = t + timedelta(days=float(rng.uniform(2, 6)))
                        at(later, "arrive", (key, s["submission"], s["earner"]))
            if progress is not None:
                progress(int(data) + 1, LIVE_DAYS, "workflow: live scoring")


def _enter(
    term: _Term,
    key: str,
    t: datetime,
    rng: np.random.Generator,
    *,
    previous: str | None = None,
    earner: str | None = None,
) -> dict[str, Any]:
    """Enter a submission: the text of one of the rubric's anchors (for a resubmission, one the
    experts passed), whose expert scores the demo keeps as its truth."""
    from calibrate.services.queue import add_submission

    term.numbers[key] += 1
    rubric = term.rubrics[key]
    ids, templates = rubric.criterion_ids, term.templates[key]
    if previous is not None:
        passing = [tm for tm in templates if rubric.passes([[tm[1][c] for c in ids]])[0]]
        templates = passing or templates
    artifact, expert = templates[int(rng.integers(len(templates)))]
    submission = f"{rubric.id}-{term.numbers[key]:03d}"
    term.truth[submission] = expert
    return add_submission(
        engine=term.engine,
        actor=term.operator,
        rubric=key,
        key=submission,
        artifact={k: v for k, v in artifact.items() if k in ("title", "description", "excerpt")},
        earner=earner or f"E-{next(term.earners):05d}",
        previous=previous,
        received_at=t,
    )


def _score(
    term: _Term,
    reader: _Reader,
    item: QueueItem,
    t: datetime,
    rule: AdjudicationRule,
    *,
    apart: bool = False,
) -> None:
    """The reader scores an item of their queue by the rating model; with ``apart``, a second
    reading of a double-scored submission strongly apart from the first (:func:`_apart`)."""
    from calibrate.services.queue import queue_score

    scorer = term.scorers[reader.rubric]
    validity, expert = _handed_out(term, item.handle)
    first = _first_reading(term, item.handle) if apart else None
    scores = scorer.read(reader.key, expert) if first is None else _apart(scorer.rubric, first)
    queue_score(engine=term.engine, actor=reader.actor, handle=item.handle, scores=scores, at=t)
    reader.holding = False
    if validity:
        reader.served += 1
        term.served[reader.rubric] += 1
        ids = scorer.rubric.criterion_ids
        if missed([scores[c] for c in ids], [expert[c] for c in ids], scorer.rubric, rule):
            reader.misses += 1


def _first_reading(term: _Term, handle: str) -> dict[str, int] | None:
    """The scores of the first reading when the item behind ``handle`` is the second reading
    of a double-scored submission (the demo reads its own store, as the operator)."""
    from calibrate.store.engine import reading
    from calibrate.store.queue import assignment_by_handle, readings_of

    with reading(term.engine) as conn:
        held = assignment_by_handle(conn, handle)
        if held is None or held.submission_id is None or held.reading != 2:
            return None
        first = [r for r in readings_of(conn, [held.submission_id])[held.submission_id]
                 if r.reading == 1]  # fmt: skip
    return dict(first[0].scores) if first else None


def _apart(rubric: Rubric, first: Mapping[str, int]) -> dict[str, int]:
    """A reading that another reader's ``first`` and it send to adjudication: every criterion at
    the top level where ``first`` does not pass (lenient), at the lowest where it does."""
    ids = rubric.criterion_ids
    passed = bool(rubric.passes([[int(first[c]) for c in ids]])[0])
    level = rubric.scores[0] if passed else rubric.scores[-1]
    return {c: level for c in ids}


def _ahead(term: _Term, reader: _Reader, n: int = 10) -> list[str]:
    """What the reader's queue hands out next, in order, seeding aside (the demo reads its own
    store, as the operator): ``second``, the second reading of a double-scored submission whose
    first reading is in; ``double``, the first reading of one; ``single``."""
    from calibrate.store.engine import reading
    from calibrate.store.queue import candidates, existing_assessor, readings_of
    from calibrate.store.scoring import stored_version

    rubric = term.rubrics[reader.rubric]
    strict = term.rules[reader.rubric].resubmission.different_assessor
    with reading(term.engine) as conn:
        who = existing_assessor(conn, reader.key)
        if who is None:
            return []
        version = stored_version(conn, rubric).id
        found = candidates(conn, who, [version], strict=[version] if strict else [], limit=n)
        done = readings_of(conn, [c.submission_id for c in found])
    return [
        "second"
        if c.free == (2,) and any(r.reading == 1 for r in done[c.submission_id])
        else "double"
        if c.free == (1, 2)
        else "single"
        for c in found
    ]


def _pending(term: _Term) -> list[dict[str, Any]]:
    from calibrate.services.queue import adjudications

    return adjudications(engine=term.engine, actor=term.lead)


def _suspension(
    term: _Term,
    readers: Sequence[_Reader],
    *,
    avoid: str | None,
    now: datetime,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """At least :data:`PENDING_PAIRS` discrepant pairs waiting for demo-lead, and one
    suspension in force: by the validity rule when it fired; otherwise demo-admin suspends a
    qualified simulated assessor, citing the evidence.

    The assessor is, where there is one, on a rubric with another qualified reader and not on
    demo-assessor's queue, with a planted effect (lenient first, see :data:`PROBLEM_EFFECTS`)
    and evidence against them (validity misses and pairs waiting for adjudication, at least
    :data:`EVIDENCE`).

    While fewer pairs wait, or there is less evidence against the assessor, qualified assessors
    read on (at most :data:`FORCED` items or entries), the second reading of a double-scored
    submission strongly apart from the first (:func:`_apart`): whoever is nearest to one
    (:func:`_opening`; the suspect first for a second reading), and when no double-scored
    submission is ahead in any queue, one more is entered (:func:`_enter_double`)."""
    from calibrate.services.queue import queue_next, suspend, suspensions

    def in_force() -> list[dict[str, Any]]:
        return [s for s in suspensions(engine=term.engine, actor=term.admin) if s["active"]]

    def pairs(reader: _Reader, waiting: Sequence[Mapping[str, Any]] | None = None) -> int:
        return sum(
            any(r["assessor"] == reader.key for r in p["readings"])
            for p in (_pending(term) if waiting is None else waiting)
        )

    rank = {e: i for i, e in enumerate(PROBLEM_EFFECTS)}
    suspended = {s["assessor"] for s in in_force()}
    waiting = _pending(term)
    able = [r for r in readers if r.effect and r.qualified_at is not None]
    partners = Counter(r.rubric for r in able)
    doubtful = sorted(
        (r for r in able if r.key not in suspended),
        key=lambda r: (
            partners[r.rubric] < 2,
            r.rubric == avoid,
            r.effect not in rank,
            r.misses + pairs(r, waiting) < EVIDENCE,
            rank.get(r.effect, 0),
            -r.misses,
            r.key,
        ),
    )
    problem = None if suspended or not doubtful else doubtful[0]
    t = now - timedelta(hours=LAST_HOURS)
    for _ in range(FORCED):
        short = len(_pending(term)) < PENDING_PAIRS
        unproven = problem is not None and problem.misses + pairs(problem) < EVIDENCE
        if not (short or unproven):
            break
        banned = {s["assessor"] for s in in_force()}
        ready = [r for r in able if r.key not in banned and not r.holding]
        if not short:  # a pair for the suspect alone: they read the second reading
            assert problem is not None
            ready = [r for r in ready if r.rubric == problem.rubric]
        reader = _opening(term, ready, problem, avoid, seconds=None if short else problem)
        if reader is None:  # no double-scored submission ahead: one more comes in
            if not _enter_double(term, ready, problem, avoid, now, rng):
                break
            continue
        nxt = queue_next(engine=term.engine, actor=reader.actor, rubric=reader.rubric, at=t)
        if nxt.item is None:
            break
        t += _minutes(rng, 3, 6)
        _score(term, reader, nxt.item, t, term.rules[reader.rubric].adjudication, apart=True)
        t += _minutes(rng, 0.5, 2)
    if problem is None or in_force():  # there is one, or the validity rule fired meanwhile
        return _in_force(in_force())
    rule = term.rules[problem.rubric].adjudication
    gap = "one level" if rule.max_gap == 1 else f"{rule.max_gap} levels"
    evidence = []
    if problem.misses:
        checks = "check" if problem.served == 1 else "checks"
        verb = "was" if problem.misses == 1 else "were"
        evidence.append(
            f"{problem.misses} of {problem.served} {checks} against expert scores in their "
            f"live work {verb} more than {gap} off or reached another pass decision"
        )
    if (n := pairs(problem)) > 0:
        what = (
            "one of their double-scored submissions parts"
            if n == 1
            else f"{n} of their double-scored submissions part"
        )
        evidence.append(f"{what} from the other reader's (waiting for adjudication)")
    evidence = evidence or ["their live scores part from the other readers'"]
    suspend(
        engine=term.engine,
        actor=term.admin,
        assessor=problem.key,
        rubric=problem.rubric,
        reason=f"{'; '.join(evidence)}: suspended from live scoring until they requalify",
    )
    return _in_force(in_force())


def _opening(
    term: _Term,
    ready: Sequence[_Reader],
    problem: _Reader | None,
    avoid: str | None,
    *,
    seconds: _Reader | None = None,
) -> _Reader | None:
    """The reader nearest to a second reading of a double-scored submission (the assessor to
    suspend first; only ``seconds`` when given), or else to its first reading (the others
    first), counting the items before it; on demo-assessor's queue only an opening at the
    head of it (nothing is read there to get to one)."""
    options = []
    for r in ready:
        for distance, kind in enumerate(_ahead(term, r)):
            if kind == "single" or (kind == "second" and seconds is not None and seconds is not r):
                if r.rubric == avoid:
                    break
                continue
            second = kind == "second"
            mine = r is problem
            options.append((distance + (not second), not mine if second else mine, r.key, r))
            break
    return min(options, key=lambda o: o[:3])[3] if options else None


def _enter_double(
    term: _Term,
    ready: Sequence[_Reader],
    problem: _Reader | None,
    avoid: str | None,
    now: datetime,
    rng: np.random.Generator,
) -> bool:
    """Enter a submission at the head of a queue with two readers (the suspect's first, off
    demo-assessor's where possible): received just before the oldest one waiting there, as
    a late entry of work received then. False when no queue has two readers."""
    from calibrate.services.queue import results

    by: Counter[str] = Counter(r.rubric for r in ready)
    options = [k for k in sorted(by) if by[k] >= 2]
    if not options:
        return False
    key = min(options, key=lambda k: (problem is None or k != problem.rubric, k == avoid))
    open_ = [
        datetime.fromisoformat(s["received_at"])
        for s in results(engine=term.engine, actor=term.admin, rubric=key)
        if s["status"] in ("waiting", "in scoring") and s["received_at"]
    ]
    oldest = min(open_, default=now - timedelta(days=1))
    _enter(term, key, oldest - _minutes(rng, 1, 30), rng)
    return True


def _in_force(found: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    return {k: found[0][k] for k in ("assessor", "rubric", "kind", "reason")} if found else None


def _count(term: _Term, on_rubric: Mapping[str, set[str]], now: datetime) -> tuple[RubricTerm, ...]:
    """The current term per rubric, read back through the services."""
    from calibrate.services.calibration import qualifications
    from calibrate.services.queue import results

    out = []
    for key in sorted(term.rubrics):
        standing = {
            q.assessor: q.status
            for q in qualifications(engine=term.engine, actor=term.admin, rubric=key, at=now)
        }
        status = Counter(standing.get(a, "not qualified") for a in on_rubric[key])
        found = results(engine=term.engine, actor=term.admin, rubric=key)
        by = Counter(s["status"] for s in found)
        out.append(
            RubricTerm(
                rubric=key,
                assessors=len(on_rubric[key]),
                qualified=status["qualified"],
                not_qualified=status["not qualified"] + status["expired"],
                suspended=status["suspended"],
                submissions=len(found),
                resubmissions=sum((s["attempt"] or 1) > 1 for s in found),
                decided=by["decided"],
                waiting=by["waiting"],
                in_scoring=by["in scoring"],
                awaiting_adjudication=by["awaiting adjudication"],
                double_scored=sum(s["readings"] == 2 for s in found),
                validity_served=term.served[key],
            )
        )
    return tuple(out)
