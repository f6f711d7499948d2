"""The ``calibrate`` command line: a thin shell over the services.

Every command calls one service function (:mod:`calibrate.services`) and prints its result, as
text or with ``--json`` as one JSON object on stdout. User mistakes
(:class:`calibrate.errors.CalibrateError`) become a clear message on stderr and exit status 1,
never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from calibrate.errors import CalibrateError, ValidationError
from calibrate.settings import ANCHOR_SETS, RUBRICS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.analyses.selection import Selection
    from calibrate.store import ImportReport

# Commands import the library when they run: `calibrate --help` and a mistyped option stay fast.

app = typer.Typer(
    name="calibrate",
    help="Trustworthy scoring of educator micro-credentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON (NaN becomes null, as JSON has no NaN)."""
    typer.echo(json.dumps(_json_safe(payload), indent=2, allow_nan=False))


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def progress_printer(label: str = "") -> Callable[[int, int, str], None]:
    """A progress callback for stderr: one redrawn line on a terminal, a line per step otherwise."""
    redraw = sys.stderr.isatty()

    def show(done: int, total: int, stage: str) -> None:
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        text = f"{label}{stage} {done:,}/{total:,}{pct}"
        if redraw:
            typer.echo(f"\r{text}\x1b[K", err=True, nl=done >= total)
        else:
            typer.echo(text, err=True)

    return show


# --- store: import, correct, status ----------------------------------------------------------

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="CALIBRATE_DATABASE_URL",
        help="Database URL (default: SQLite file var/calibrate.db; postgresql://... for a server).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ByOption = Annotated[str, typer.Option("--by", help="Who records this (kept with every row).")]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="Only ratings of this context (live, practice, qualification, validity); "
        "needed when the file mixes contexts (the store: live unless given).",
    ),
]
RubricFilterOption = Annotated[
    str | None,
    typer.Option(
        "--rubric",
        help="Only ratings of this rubric (id@version, or id when the file holds one version); "
        "needed when the file mixes rubrics, and to analyse the store.",
    ),
]
StoredRatingsPath = Annotated[
    Path | None,
    typer.Argument(
        metavar="[RATINGS.csv]",
        help="Ratings CSV (long format). Omit to analyse the ratings in the store (--rubric, "
        "--context, --database).",
    ),
]
KeepOption = Annotated[
    str | None,
    typer.Option(
        "--keep",
        metavar="first|last",
        help="Which rating counts when an assessor scored a submission on a criterion more "
        "than once (practice or qualification retakes): first (the independent first reading) "
        "or last.",
    ),
]

import_app = typer.Typer(help="Import rubrics, anchor sets and ratings (all or nothing).")
app.add_typer(import_app, name="import")


@contextmanager
def store_engine(database: str | None) -> Iterator[Engine]:
    """The migrated store for one command, its connections closed afterwards."""
    from calibrate.services import connected

    with connected(database) as engine:
        yield engine


def analysed_ratings(
    path: Path | None,
    *,
    database: str | None,
    context: str | None,
    rubric: str | None,
    keep: str | None,
    wide: bool = False,
    criterion: str | None = None,
) -> Selection:
    """The ratings of a CSV file, or without one those of one rubric version and context in the
    store (live unless ``--context`` says otherwise): :func:`calibrate.services.select_ratings`."""
    from calibrate.services import select_ratings

    chosen_keep: Any = keep  # checked by Ratings.select
    return select_ratings(
        path,
        database=database,
        rubric=rubric,
        context=context,
        keep=chosen_keep,
        wide=wide,
        criterion=criterion,
    )


def _report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(
            f"{report.source}: {report.n_rows} read, {report.n_written} written, "
            f"{report.n_unchanged} already stored"
        )


@import_app.command("rubrics")
def import_rubrics_cmd(
    rubrics: Annotated[Path, typer.Argument(help="Folder of rubric YAML files.")],
    anchors: Annotated[
        Path | None, typer.Option("--anchors", help="Folder of anchor sets (<rubric-id>/*.yaml).")
    ] = None,
    database: DatabaseOption = None,
    by: ByOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Validate and store every rubric (and anchor set); a changed rubric needs a new version."""
    with store_engine(database) as engine:
        from calibrate.services import import_definitions

        report = import_definitions(rubrics, anchors, engine=engine, by=by)
    _report(report, as_json)


@import_app.command("ratings")
def import_ratings_cmd(
    path: Annotated[Path, typer.Argument(help="Ratings CSV (long format unless --wide).")],
    rubric: Annotated[
        str | None, typer.Option("--rubric", help="ID[@VERSION] for rows without a rubric column.")
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Unit column + one column per assessor.")
    ] = False,
    criterion: Annotated[
        str | None, typer.Option("--criterion", help="The criterion a wide file holds.")
    ] = None,
    database: DatabaseOption = None,
    by: ByOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Check a ratings CSV against its rubric version and store it, all or nothing."""
    if wide and not criterion:
        raise CalibrateError("--wide needs --criterion: a wide file holds one criterion")
    with store_engine(database) as engine:
        from calibrate.services import import_ratings

        report = import_ratings(
            path,
            engine=engine,
            rubric=rubric,
            wide=wide,
            criterion=criterion,
            by=by,
            progress=progress_printer() if _large(path) else None,
        )
    _report(report, as_json)


def _large(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5_000_000


@app.command("correct")
def correct_cmd(
    rating_id: Annotated[int, typer.Argument(help="Id of the rating to correct.")],
    score: Annotated[int, typer.Argument(help="The corrected score (a level of the rubric).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the score changes.")],
    by: ByOption = "cli",
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a corrected score; the old revision is kept with who changed it and when."""
    with store_engine(database) as engine:
        from calibrate.services import correct

        new_id = correct(rating_id, score, engine=engine, by=by, reason=reason)
    if as_json:
        emit_json({"rating": new_id, "supersedes": rating_id})
    else:
        typer.echo(f"rating {new_id} supersedes rating {rating_id}")


@app.command("history")
def history_cmd(
    rating_id: Annotated[int, typer.Argument(help="Id of any revision of the rating.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show every revision of a rating, oldest first."""
    with store_engine(database) as engine:
        from calibrate.services import history

        chain = history(rating_id, engine=engine)
    if as_json:
        emit_json([{k: str(v) if k.endswith("_at") else v for k, v in r.items()} for r in chain])
        return
    for r in chain:
        typer.echo(
            f"#{r['id']} rev {r['revision']}: score {r['score']} recorded {r['recorded_at']} "
            f"by {r['recorded_by']}" + (f" ({r['reason']})" if r["reason"] else "")
        )


@app.command("status")
def status_cmd(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Row counts of the store (creating and migrating it if needed)."""
    with store_engine(database) as engine:
        from calibrate.services import store_status

        rows = store_status(engine=engine)
    if as_json:
        emit_json(rows)
    else:
        for table, n in rows.items():
            typer.echo(f"{table:<22}{n:>10,}")


@app.command("validate")
def validate_cmd(
    rubrics: Annotated[Path, typer.Argument(help="Folder of rubric YAML files.")],
    anchors: Annotated[
        Path | None, typer.Option("--anchors", help="Folder of anchor sets.")
    ] = None,
) -> None:
    """Check rubric and anchor-set files without storing anything."""
    from calibrate.services import validate_definitions

    found = validate_definitions(rubrics, anchors)
    typer.echo(f"ok: {found.n_rubrics} rubric(s), {found.n_anchor_sets} anchor set(s)")


# --- agreement among assessors ------------------------------------------------------------------


@app.command("agreement")
def agreement_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[RATINGS.csv]",
            help="Ratings CSV (long format unless --wide). Omit to analyse the ratings in the "
            "store (--rubric, --context, --database).",
        ),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Unit column + one column per assessor.")
    ] = False,
    criterion: Annotated[
        str | None,
        typer.Option("--criterion", help="Only this criterion (with --wide: the one it holds)."),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap", min=0, metavar="N", help="Resamples of units for 95% intervals."
        ),
    ] = 0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Bootstrap seed (same seed, same intervals).")
    ] = None,
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    keep: KeepOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Agreement among assessors, per criterion and pooled: percent agreement, kappas, alpha,
    AC1/AC2, ICC."""
    from calibrate.report.text import agreement_table, decisions_text
    from calibrate.services import agreement

    data = analysed_ratings(
        path,
        database=database,
        context=context,
        rubric=rubric,
        keep=keep,
        wide=wide,
        criterion=criterion,
    )
    result = agreement(
        data,
        criterion=None if wide else criterion,
        n_boot=bootstrap,
        seed=seed,
        progress=progress_printer("bootstrap ") if bootstrap else None,
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        typer.echo(agreement_table(result.report, source=data.source))
        if result.decisions is not None:
            typer.echo("\n" + decisions_text(result.decisions, rubric=data.rubric))


@app.command("accuracy")
def accuracy_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[RATINGS.csv]",
            help="Ratings of anchors (long: submission = anchor id, assessor, criterion, score). "
            "Omit to use the anchor ratings in the store (--rubric).",
        ),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            metavar="ANCHOR_SET",
            help="Anchor-set YAML file, or a folder of them, holding the expert scores.",
        ),
    ] = None,
    rubric_dir: Annotated[
        Path,
        typer.Option("--rubric-dir", help="Rubric files the anchor sets are validated against."),
    ] = Path("rubrics"),
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric", metavar="ID[@VERSION]", help="Without RATINGS.csv: the rubric in the store."
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accuracy against anchors per assessor and criterion: exact/adjacent agreement with the
    experts, mean deviation (severity) with its interval, MAE, quadratic weighted kappa, and
    pass-decision accuracy."""
    from calibrate.report.text import accuracy_text
    from calibrate.services import accuracy_from_files, stored_accuracy

    if path is not None:
        if anchors is None:
            raise CalibrateError("RATINGS.csv needs --anchors ANCHOR_SET (the expert scores)")
        if rubric is not None:
            raise CalibrateError("--rubric is for the store; with RATINGS.csv the sets name it")
        report = accuracy_from_files(path, anchors=anchors, rubric_dir=rubric_dir)
    else:
        if rubric is None:
            raise CalibrateError(
                "give RATINGS.csv --anchors ANCHOR_SET, or --rubric ID for the ratings in the store"
            )
        if anchors is not None:
            raise CalibrateError("--anchors goes with RATINGS.csv; the store holds its anchor sets")
        with store_engine(database) as engine:
            report = stored_accuracy(engine=engine, rubric=rubric)
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(accuracy_text(report, source=path.name if path is not None else "store"))


# --- simulate: a demo programme with known truth ----------------------------------------------


@app.command("simulate")
def simulate_cmd(
    size: Annotated[
        str | None,
        typer.Option("--size", help="Preset: classroom (default), pilot or state."),
    ] = None,
    ratings: Annotated[
        int | None,
        typer.Option("--ratings", min=1, metavar="N", help="Target number of ratings instead."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same programme.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for ratings.csv and truth.json.")
    ] = Path("simulated"),
    rubrics: Annotated[
        Path, typer.Option("--rubrics", help="Folder of rubric YAML files.")
    ] = RUBRICS,
    anchors: Annotated[
        Path, typer.Option("--anchors", help="Folder of anchor sets (<rubric-id>/*.yaml).")
    ] = ANCHOR_SETS,
    as_json: JsonOption = False,
) -> None:
    """Simulate a programme (assessors with planted effects, earners, attempts) and write
    DIR/ratings.csv (import format) and DIR/truth.json."""
    from calibrate.services import simulate

    if size is not None and ratings is not None:
        raise CalibrateError("give --size or --ratings, not both")
    programme = simulate(
        rubrics,
        anchors,
        out,
        size=ratings if ratings is not None else size or "classroom",
        seed=seed,
        progress=progress_printer("simulate: "),
    )
    summary = programme.summary()
    if as_json:
        emit_json({**summary.to_dict(), "out": str(out)})
    else:
        typer.echo(str(summary))
        typer.echo(f"wrote {out / 'ratings.csv'} and {out / 'truth.json'}")


# --- raters: many-facet Rasch model ------------------------------------------------------------


@app.command("raters")
def raters_cmd(
    path: StoredRatingsPath = None,
    model: Annotated[
        str, typer.Option("--model", help="rating-scale (one scale) or partial-credit.")
    ] = "rating-scale",
    facet: Annotated[
        str | None,
        typer.Option(
            "--facet", metavar="COLUMN", help="Extra facet from a CSV column (e.g. attempt, round)."
        ),
    ] = None,
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    keep: KeepOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rater effects by the many-facet Rasch model (FACETS conventions): assessor severity,
    criterion difficulty, submission measures, fit, separation, thresholds, bias terms."""
    from calibrate.report.text import raters_table
    from calibrate.services import rater_effects

    data = analysed_ratings(path, database=database, context=context, rubric=rubric, keep=keep)
    redraw = sys.stderr.isatty()

    def show(_done: int, _total: int, text: str) -> None:
        text = f"raters: {text}"
        typer.echo(f"\r{text}\x1b[K" if redraw else text, err=True, nl=not redraw)

    report = rater_effects(
        data,
        model=model,  # type: ignore[arg-type]  # checked by fit_mfrm
        facet=facet,
        progress=show,
    )
    if redraw:
        typer.echo("", err=True)
    for warning in report.warnings():
        typer.echo(f"warning: {warning[0].lower()}{warning[1:]}", err=True)
    payload = report.to_dict()
    if as_json:
        emit_json(payload)
    else:
        typer.echo(raters_table(payload, source=data.source))


# --- dashboard and demo ------------------------------------------------------------------------


@app.command("serve")
def serve_cmd(
    database: DatabaseOption = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Serve the dashboard on the store (Ctrl-C to stop)."""
    import os
    import subprocess

    import calibrate.dashboard

    with store_engine(database):  # a bad URL fails here, in one line, not in the browser
        pass
    env = dict(os.environ)
    if database:
        env["CALIBRATE_DATABASE_URL"] = database
    script = Path(calibrate.dashboard.__file__).parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    if headless:
        cmd += ["--server.headless", "true"]
    cmd += ["--browser.gatherUsageStats", "false"]
    typer.echo(f"serving the dashboard on http://localhost:{port}", err=True)
    sys.exit(subprocess.call(cmd, env=env))


@app.command("demo")
def demo_cmd(
    database: DatabaseOption = None,
    size: Annotated[
        str, typer.Option("--size", help="Programme size: classroom, pilot or state.")
    ] = "pilot",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 2026,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for ratings.csv and truth.json.")
    ] = Path("var/demo"),
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")
    ] = True,
    port: Annotated[int, typer.Option("--port", help="Dashboard port.")] = 8501,
    as_json: JsonOption = False,
) -> None:
    """Build the demo programme in the store (rubrics, anchors, simulated ratings), then serve."""

    # Simulate before opening the store: a bad size creates no database.
    from calibrate.services.demo import simulate_demo, store_demo

    programme = simulate_demo(out=out, size=size, seed=seed, progress=progress_printer())
    with store_engine(database) as engine:
        report = store_demo(programme, engine=engine, out=out, progress=progress_printer())
    if as_json:
        emit_json(report.to_dict())
    else:
        d, r = report.definitions, report.ratings
        typer.echo(f"rubrics and anchor sets: {d.n_written} stored, {d.n_unchanged} already there")
        typer.echo(
            f"ratings: {r.n_written:,} stored, {r.n_unchanged:,} already there "
            f"({report.ratings_csv})"
        )
    if serve:
        serve_cmd(database=database, port=port, headless=False)


# --- generalizability theory: G and D studies --------------------------------------------------


@app.command("gstudy")
def gstudy_cmd(
    path: StoredRatingsPath = None,
    design: Annotated[
        Literal["crossed", "nested"]
        | None,  # calibrate.stats.gtheory.Design, not imported: fast --help
        typer.Option(
            "--design",
            help="crossed: the same assessors rated every submission (p x r x i); nested: each "
            "submission has its own assessors ((r:p) x i). Default: crossed when every assessor "
            "rated every submission, else nested.",
        ),
    ] = None,
    target: Annotated[
        float,
        typer.Option("--target", min=0.0, max=1.0, help="Coefficient the assessor counts aim at."),
    ] = 0.8,
    max_assessors: Annotated[
        int | None,
        typer.Option(
            "--max-assessors",
            min=1,
            metavar="K",
            help="D study over 1..K assessors per submission (default: max(5, most seen)).",
        ),
    ] = None,
    criteria: Annotated[
        list[float] | None,
        typer.Option(
            "--criteria",
            min=0.0,
            metavar="N",
            help="D study also with N criteria per submission (repeat for several; default: "
            "the observed number).",
        ),
    ] = None,
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    keep: KeepOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """G study and D study: variance components, G and Phi, and how many assessors per
    submission reach the target."""
    from calibrate.report.text import gstudy_text
    from calibrate.services import reliability

    data = analysed_ratings(path, database=database, context=context, rubric=rubric, keep=keep)
    study = reliability(
        data, design=design, target=target, max_assessors=max_assessors, criteria=criteria
    )
    if as_json:
        emit_json(study.to_dict())
    else:
        typer.echo(gstudy_text(study, source=data.source, detected=design is None))


def main() -> None:
    """Entry point: run the app, turning user mistakes into one clear message and exit status 1.

    Usage errors (unknown option, missing argument) are reported by Typer with exit status 2.
    """
    try:
        app()
    except ValidationError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo("nothing was written", err=True)
        sys.exit(1)
    except CalibrateError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
