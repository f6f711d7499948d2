"""The live scoring queue under concurrent assessors, against a bare queue on the same database.

``--assessors`` threads, each an assessor qualified on ``crsel-intro@1`` (the shipped rubric),
loop until the queue is empty: :func:`calibrate.services.queue.queue_next`, then
:func:`~calibrate.services.queue.queue_score` with random scores (a seeded validity anchor
gets its experts' scores, looked up untimed, so that nobody is suspended). Double scoring and
seeding follow the programme rules' defaults. Each call's wall time is recorded; the table
gives the median and 95th percentile and the items scored per second.

The peer, in the same run on the same database with the same threads: a bare queue with no
checks, no rules and no audit log. Its "next" is one transaction claiming the oldest unclaimed
row (``SELECT ... FOR UPDATE SKIP LOCKED`` and an ``UPDATE`` on PostgreSQL; ``UPDATE ...
RETURNING`` on SQLite), its "score" one transaction inserting the criterion ratings and marking
the row done. The ratio is what calibrate's checks, its audit seal and its store-wide writer
lock cost over the database's own floor.

``--history`` ratings (10^3 to 10^6) of the rubric are imported first, untimed, as last term's
work of the same assessors: the queue's reads (qualification, suspension, who read what) run
against a store of that size. After each run the store is checked: every reading scored once
by a different assessor, nothing open, no one suspended, and :func:`calibrate.store.audit.
verify_store` passes.

Run: ``python benchmarks/bench_queue.py [--postgres URL] [--assessors 1 20 200]
[--items 5] [--history 1000 100000]``. SQLite uses a temporary file.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from calibrate import store
from calibrate.access import Actor
from calibrate.services import queue as q
from calibrate.store.audit import verify_store
from calibrate.store.calibration import ATTEMPT, SUSPENSION
from calibrate.store.engine import reading, writing
from calibrate.store.queue import ASSIGNMENT, assignment_by_handle
from calibrate.store.scoring import anchors_by_id, assessor_id, stored_version

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = "crsel-intro@1"
ISSUER = "north"
OPERATOR = Actor.operator("bench@bench_queue")


def reset(url: str) -> sa.Engine:
    """An empty store at ``url`` with the shipped definitions (issuer ``north``)."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        bare = sa.create_engine(store.normalise_url(url))
        with bare.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        bare.dispose()
    engine = store.open_store(url)  # the engine the services get in production, its pool too
    store.import_definition_dirs(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, issuer=ISSUER
    )
    return engine


def history(engine: sa.Engine, n_ratings: int, n_assessors: int, folder: Path) -> None:
    """Last term's ratings of the rubric: submissions read by two of the assessors."""
    rubric = store.stored_rubric(RUBRIC, engine=engine)
    ids, k = rubric.criterion_ids, len(rubric.criterion_ids)
    rng = np.random.default_rng(0)
    n_sub = max(n_ratings // (2 * k), 1)
    path = folder / "history.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "assessor", "criterion", "score", "rubric", "timestamp"])
        for s in range(n_sub):
            pair = rng.choice(max(n_assessors, 2), 2, replace=False)
            for a in pair:
                for c in ids:
                    w.writerow([f"h{s:07d}", f"B{a:04d}", c, int(rng.choice(rubric.scores)),
                                RUBRIC, "2026-03-01T10:00:00Z"])  # fmt: skip
    store.import_ratings_file(path, engine=engine, imported_by=OPERATOR.name)


def qualify(engine: sa.Engine, actors: list[Actor]) -> None:
    """A passed qualification round per assessor, written directly (untimed setup; rounds are
    measured by the services' own tests)."""
    rubric = store.stored_rubric(RUBRIC, engine=engine)
    now = datetime.now(UTC)
    with writing(engine) as conn:
        version = stored_version(conn, rubric).id
        conn.execute(
            ATTEMPT.insert(),
            [
                {"key": f"Q-{i:010x}", "assessor_id": assessor_id(conn, str(a.assessor)),
                 "rubric_version_id": version, "purpose": "qualification",
                 "started_at": now - timedelta(hours=1), "finished_at": now, "passed": True}
                for i, a in enumerate(actors)
            ],
        )  # fmt: skip


def calibrate_run(
    engine: sa.Engine, actors: list[Actor], items: int, think: float
) -> dict[str, list[float]]:
    """Enter submissions for about ``items`` readings per assessor, then let every assessor
    work the queue dry; the wall times of each kind of call."""
    rubric = store.stored_rubric(RUBRIC, engine=engine)
    n_sub = max(1, round(len(actors) * items / 1.25))  # about a quarter need two readings
    times: dict[str, list[float]] = {"add": [], "next": [], "score": [], "wall": []}
    for i in range(n_sub):
        start = time.perf_counter()
        artifact = {"title": f"Portfolio {i}", "excerpt": "Lesson plan ..."}
        q.add_submission(
            engine=engine, actor=OPERATOR, rubric=RUBRIC, key=f"live-{i:06d}", artifact=artifact
        )
        times["add"].append(time.perf_counter() - start)

    def work(actor: Actor, rng: np.random.Generator) -> None:
        time.sleep(rng.uniform(0, think))  # assessors start at different times
        while True:
            start = time.perf_counter()
            nxt = q.queue_next(engine=engine, actor=actor, rubric=RUBRIC)
            times["next"].append(time.perf_counter() - start)
            if nxt.item is None:
                return
            with reading(engine) as conn:  # untimed: the benchmark's own knowledge
                held = assignment_by_handle(conn, nxt.item.handle)
                assert held is not None
                anchor = None if held.anchor_id is None else held.anchor_id
                expert = anchors_by_id(conn, [anchor])[0].expert if anchor else None
            scores = expert or {c: int(rng.choice(rubric.scores)) for c in rubric.criterion_ids}
            time.sleep(rng.exponential(think))  # reading the work
            start = time.perf_counter()
            q.queue_score(engine=engine, actor=actor, handle=nxt.item.handle, scores=scores)
            times["score"].append(time.perf_counter() - start)

    began = time.perf_counter()
    threaded([lambda a=a, i=i: work(a, np.random.default_rng(i)) for i, a in enumerate(actors)])
    times["wall"] = [time.perf_counter() - began]
    return times


def peer_run(
    engine: sa.Engine, n_threads: int, items: int, n_criteria: int, think: float
) -> dict[str, list[float]]:
    """The bare queue: the same number of readings, claimed and scored by the same threads."""
    meta = sa.MetaData()
    item = sa.Table("peer_item", meta, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("claimed_by", sa.Integer), sa.Column("done", sa.Boolean))  # fmt: skip
    score = sa.Table("peer_rating", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("item_id", sa.Integer), sa.Column("criterion", sa.Integer),
                     sa.Column("score", sa.Integer))  # fmt: skip
    meta.drop_all(engine)
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(item.insert(), [{"claimed_by": None, "done": False}] * (n_threads * items))
    postgres = engine.dialect.name == "postgresql"
    times: dict[str, list[float]] = {"next": [], "score": [], "wall": []}

    def claim(who: int) -> int | None:
        with engine.begin() as c:
            if postgres:
                found = c.execute(
                    sa.select(item.c.id).where(item.c.claimed_by.is_(None))
                    .order_by(item.c.id).limit(1).with_for_update(skip_locked=True)
                ).scalar()  # fmt: skip
                if found is not None:
                    c.execute(item.update().where(item.c.id == found).values(claimed_by=who))
                return found
            c.exec_driver_sql("SELECT 1")  # SQLAlchemy's SQLite BEGIN is deferred
            return c.execute(
                item.update()
                .where(item.c.id == sa.select(sa.func.min(item.c.id))
                       .where(item.c.claimed_by.is_(None)).scalar_subquery())
                .values(claimed_by=who).returning(item.c.id)
            ).scalar()  # fmt: skip

    def work(who: int, rng: np.random.Generator) -> None:
        time.sleep(rng.uniform(0, think))
        while True:
            start = time.perf_counter()
            found = claim(who)
            times["next"].append(time.perf_counter() - start)
            if found is None:
                return
            time.sleep(rng.exponential(think))
            start = time.perf_counter()
            with engine.begin() as c:
                c.execute(score.insert(), [{"item_id": found, "criterion": k,
                                            "score": int(rng.integers(1, 5))}
                                           for k in range(n_criteria)])  # fmt: skip
                c.execute(item.update().where(item.c.id == found).values(done=True))
            times["score"].append(time.perf_counter() - start)

    began = time.perf_counter()
    threaded([lambda w=w: work(w, np.random.default_rng(w)) for w in range(n_threads)])
    times["wall"] = [time.perf_counter() - began]
    with engine.connect() as c:
        left = c.execute(sa.select(sa.func.count()).where(~item.c.done)).scalar()
    assert left == 0, f"peer: {left} items left"
    return times


def threaded(jobs: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as e:  # re-raised below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def check(engine: sa.Engine) -> None:
    """Every assignment finished, no reading given twice, nobody suspended, the store verifies."""
    with reading(engine) as conn:
        open_ = conn.execute(
            sa.select(sa.func.count()).where(ASSIGNMENT.c.finished_at.is_(None))
        ).scalar()
        twice = conn.execute(
            sa.select(ASSIGNMENT.c.submission_id, ASSIGNMENT.c.reading)
            .where(ASSIGNMENT.c.submission_id.is_not(None), ASSIGNMENT.c.released_at.is_(None))
            .group_by(ASSIGNMENT.c.submission_id, ASSIGNMENT.c.reading)
            .having(sa.func.count() > 1)
        ).all()
        suspended = conn.execute(sa.select(sa.func.count()).select_from(SUSPENSION)).scalar()
    assert open_ == 0 and not twice and suspended == 0, (open_, twice, suspended)
    problems = verify_store(engine).problems
    assert not problems, problems


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a scratch PostgreSQL database (emptied)")
    parser.add_argument("--assessors", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--items", type=int, default=5, help="readings per assessor")
    parser.add_argument("--history", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds an assessor spends on an item (exponential; 0: a closed loop, every "
        "assessor calling again at once, the worst case)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    backends = [("SQLite", f"sqlite:///{folder / 'queue.db'}")]
    if args.postgres:
        backends.append(("PostgreSQL", args.postgres))
    print("| backend | history | assessors | call | p50 ms | p95 ms | peer p50 | peer p95 "
          "| p50 ratio | items/s | peer items/s |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, url in backends:
        for size in args.history:
            for n in args.assessors:
                if name == "SQLite" and n > 50:
                    continue  # one writer at a time by design; PostgreSQL is the served store
                engine = reset(url)
                history(engine, size, n, folder)
                actors = [Actor(f"b{i:04d}", "assessor", ISSUER, f"B{i:04d}") for i in range(n)]
                qualify(engine, actors)
                ours = calibrate_run(engine, actors, args.items, args.think)
                check(engine)
                n_criteria = len(store.stored_rubric(RUBRIC, engine=engine).criterion_ids)
                peer = peer_run(engine, n, args.items, n_criteria, args.think)
                rate = len(ours["score"]) / ours["wall"][0]
                peer_rate = len(peer["score"]) / peer["wall"][0]
                for call in ("next", "score"):
                    a, b = ours[call], peer[call]
                    print(f"| {name} | {size:,} | {n} | {call} | {pct(a, 50):.1f} | "
                          f"{pct(a, 95):.1f} | {pct(b, 50):.1f} | {pct(b, 95):.1f} | "
                          f"{pct(a, 50) / pct(b, 50):.1f} | {rate:.1f} | {peer_rate:.1f} |",
                          flush=True)  # fmt: skip
                print(f"| {name} | {size:,} | {n} | submissions add | {pct(ours['add'], 50):.1f} "
                      f"| {pct(ours['add'], 95):.1f} | | | | | |", flush=True)  # fmt: skip
                engine.dispose()


if __name__ == "__main__":
    main()
