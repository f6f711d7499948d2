"""The ``calibrate`` command line: a thin shell over the services.

Every command calls one service function (:mod:`calibrate.services`) and prints its result, as
text or with ``--json`` as one JSON object on stdout. User mistakes
(:class:`calibrate.errors.CalibrateError`) become a clear message on stderr and exit status 1,
never a traceback.

Exit status: 0 done; 1 refused (the message says why; commands that write also say that nothing
was written), or ``verify`` found a problem; 2 usage error (unknown option, missing argument); 3
results printed but not trustworthy (the rater model did not converge).

Who acts: a command on the store acts as the account logged in to that store with ``calibrate
login`` (its role's limits apply), and without a login as the operator, whoever holds the
database's credentials (:mod:`calibrate.services.session_file`), recorded in the audit log as
``operator:<user>@<host>``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from calibrate.errors import CalibrateError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor
    from calibrate.analyses.selection import Selection
    from calibrate.flags import FlagReport
    from calibrate.store import ImportReport

# Commands import the library when they run: `calibrate --help` and a mistyped option stay fast.

NOT_TRUSTWORTHY = 3
"""Exit status of a command that printed its results but cannot vouch for them (a rater model
that did not converge)."""

WRITES = frozenset(
    {
        "import rubrics",
        "import ratings",
        "correct",
        "demo",
        "export ratings",
        *(
            f"accounts {c}"
            for c in ("create-admin", "add", "disable", "enable", "role", "password", "grant")
        ),
        "accounts revoke",
        "practice next",
        "practice score",
        "round start",
        "round score",
        "queue next",
        "queue score",
        "queue release",
        "adjudicate resolve",
        "submissions add",
        "suspend",
        "reinstate",
    }
)
"""The commands that write (the store, and for the demo its files). Only their refusals end with
"nothing was written": they are all or nothing. The other commands have nothing to write
(``queue next`` and ``practice next`` write the assignment or attempt they hand out)."""

PRINTED = 200
"""Problems of a refused input printed on stderr; beyond this many, the first :data:`HEAD` are
printed and every one is written to a file the message names."""
HEAD = 50

app = typer.Typer(
    name="calibrate",
    help="Trustworthy scoring of educator micro-credentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: Rich would add a third of a second to every start
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

LOCAL_RUBRICS = Path("rubrics")
RubricDirOption = Annotated[
    Path | None,
    typer.Option(
        "--rubric-dir",
        help="With RATINGS.csv: the programme's rubric files. The rubric version the file names "
        "gives the levels chance agreement counts and the pass rule, as in the store "
        "(default: ./rubrics when it exists).",
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


@contextmanager
def acting(database: str | None) -> Iterator[tuple[Engine, Actor]]:
    """The store for one command and the account it acts for: the one logged in to this store
    (``calibrate login``), else the operator (:mod:`calibrate.services.session_file`)."""
    with store_engine(database) as engine:
        yield engine, acting_account(database, engine=engine)


def acting_account(database: str | None, *, engine: Engine | None = None) -> Actor:
    """The logged-in account of the store, else the operator; a session that no longer holds
    is refused in one line that says what to do."""
    from calibrate.errors import AuthenticationError
    from calibrate.services.session_file import acting_account as account

    try:
        return account(database, engine=engine)
    except AuthenticationError as exc:
        raise AuthenticationError(
            f"{exc} (calibrate login; or calibrate logout to act as the operator)"
        ) from None


def analysed_ratings(
    path: Path | None,
    *,
    database: str | None,
    context: str | None,
    rubric: str | None,
    keep: str | None,
    wide: bool = False,
    criterion: str | None = None,
    rubric_dir: Path | None = None,
) -> Selection:
    """The ratings of a CSV file, or without one those of one rubric version and context in the
    store (live unless ``--context`` says otherwise): :func:`calibrate.services.select_ratings`.
    A file's rubric files are ``rubric_dir``, else ``./rubrics`` when it exists."""
    from calibrate.services import select_ratings

    chosen_keep: Any = keep  # checked by Ratings.select
    if path is None and rubric is not None and not wide:  # the store, read as the acting account
        with acting(database) as (engine, actor):
            return select_ratings(
                None, engine=engine, actor=actor, rubric=rubric, context=context, keep=chosen_keep
            )
    return select_ratings(
        path,
        database=database,
        rubric=rubric,
        context=context,
        keep=chosen_keep,
        wide=wide,
        criterion=criterion,
        rubric_dir=rubric_dir
        if rubric_dir is not None or not LOCAL_RUBRICS.is_dir()
        else LOCAL_RUBRICS,
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
    issuer: Annotated[
        str | None,
        typer.Option(
            "--issuer",
            metavar="KEY",
            help="The issuer that owns them (an administrator: their own, the default; the "
            "operator: any, default 'default').",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate and store every rubric (and anchor set); a changed rubric needs a new version."""
    with acting(database) as (engine, actor):
        from calibrate.services import import_definitions

        report = import_definitions(rubrics, anchors, engine=engine, actor=actor, issuer=issuer)
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
    ignore_unknown: Annotated[
        bool,
        typer.Option(
            "--ignore-unknown-columns",
            help="Drop columns the format does not know instead of refusing the file (a "
            "misspelt column is otherwise refused: it would silently change what is stored).",
        ),
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a ratings CSV against its rubric version and store it, all or nothing."""
    if wide and not criterion:
        raise CalibrateError("--wide needs --criterion: a wide file holds one criterion")
    with acting(database) as (engine, actor):
        from calibrate.services import import_ratings

        report = import_ratings(
            path,
            engine=engine,
            rubric=rubric,
            wide=wide,
            criterion=criterion,
            actor=actor,
            progress=progress_printer() if _large(path) else None,
            ignore_unknown=ignore_unknown,
        )
    _report(report, as_json)


def _large(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5_000_000


@app.command("correct")
def correct_cmd(
    rating_id: Annotated[int, typer.Argument(help="Id of the rating to correct.")],
    score: Annotated[int, typer.Argument(help="The corrected score (a level of the rubric).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the score changes.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a corrected score; the old revision is kept with who changed it (the acting
    account) and when."""
    with acting(database) as (engine, actor):
        from calibrate.services import correct

        new_id = correct(rating_id, score, engine=engine, actor=actor, reason=reason)
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
    with acting(database) as (engine, actor):
        from calibrate.services import history

        chain = history(rating_id, engine=engine, actor=actor)
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
    """Row counts of the store (creating and migrating it if needed): every table for the
    operator, what the account's issuers own for a logged-in account."""
    with acting(database) as (engine, actor):
        from calibrate.services import store_status

        rows = store_status(engine=engine, actor=actor)
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
    as_json: JsonOption = False,
) -> None:
    """Check rubric and anchor-set files without storing anything."""
    from calibrate.services import validate_definitions

    found = validate_definitions(rubrics, anchors)
    if as_json:
        emit_json({"rubrics": found.n_rubrics, "anchor_sets": found.n_anchor_sets})
    else:
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
    rubric_dir: RubricDirOption = None,
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
        rubric_dir=rubric_dir,
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
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Only ratings of this context (practice, qualification or validity; default "
            "all three).",
        ),
    ] = None,
    keep: Annotated[
        str | None,
        typer.Option(
            "--keep",
            metavar="first|last",
            help="Which rating counts when an assessor scored an anchor on a criterion more than "
            "once (practice or qualification retakes): first (the independent first reading) "
            "or last. Default: every reading counts.",
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

    chosen_keep: Any = keep  # checked by the use case
    if path is not None:
        if anchors is None:
            raise CalibrateError("RATINGS.csv needs --anchors ANCHOR_SET (the expert scores)")
        if rubric is not None:
            raise CalibrateError("--rubric is for the store; with RATINGS.csv the sets name it")
        report = accuracy_from_files(
            path, anchors=anchors, rubric_dir=rubric_dir, context=context, keep=chosen_keep
        )
    else:
        if rubric is None:
            raise CalibrateError(
                "give RATINGS.csv --anchors ANCHOR_SET, or --rubric ID for the ratings in the store"
            )
        if anchors is not None:
            raise CalibrateError("--anchors goes with RATINGS.csv; the store holds its anchor sets")
        with acting(database) as (engine, actor):
            report = stored_accuracy(
                engine=engine, actor=actor, rubric=rubric, context=context, keep=chosen_keep
            )
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
        Path | None,
        typer.Option("--rubrics", help="Folder of rubric YAML files (default: the shipped ones)."),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="Folder of anchor sets, <rubric-id>/*.yaml (default: the shipped ones).",
        ),
    ] = None,
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
        str,
        typer.Option(
            "--model",
            help="random (random-effects model: finite severities with honest intervals on "
            "sparse live designs) or jmle (joint maximum likelihood as FACETS, for comparison).",
        ),
    ] = "random",
    scale: Annotated[
        str,
        typer.Option("--scale", help="With --model jmle: rating-scale or partial-credit."),
    ] = "rating-scale",
    facet: Annotated[
        str | None,
        typer.Option(
            "--facet",
            metavar="COLUMN",
            help="With --model jmle: extra facet from a CSV column (e.g. attempt, round).",
        ),
    ] = None,
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    keep: KeepOption = None,
    rubric_dir: RubricDirOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rater effects: each assessor's severity with its interval, read against the programme's
    tolerance, and fit; criterion difficulties and thresholds.

    By default the random-effects model: an assessor the data cannot place is listed with the
    reason and no severity (JSON: status "not placed", null severity). --model jmle gives
    FACETS-style tables (separation, fair averages, bias terms). When the model did not
    converge, the results are printed after a NOT TRUSTWORTHY banner (JSON: converged false,
    warnings) and the exit status is 3."""
    from calibrate.report.text import raters_table, severity_table
    from calibrate.services import programme_rules, rater_effects

    data = analysed_ratings(
        path,
        database=database,
        context=context,
        rubric=rubric,
        keep=keep,
        rubric_dir=rubric_dir,
    )
    redraw = sys.stderr.isatty()

    def show(_done: int, _total: int, text: str) -> None:
        text = f"raters: {text}"
        typer.echo(f"\r{text}\x1b[K" if redraw else text, err=True, nl=not redraw)

    report = rater_effects(
        data,
        model=model,  # type: ignore[arg-type]  # checked by rater_report
        scale=scale,  # type: ignore[arg-type]  # checked by fit_mfrm
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
    elif report.model == "random":
        typer.echo(severity_table(payload, source=data.source))
    else:
        bias_t = programme_rules(rubric=data.rubric).flags.bias_t
        typer.echo(raters_table(payload, source=data.source, bias_t=bias_t))
    if not report.converged:
        raise typer.Exit(NOT_TRUSTWORTHY)


# --- programme rules ---------------------------------------------------------------------------


@app.command("rules")
def rules_cmd(
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric",
            metavar="ID[@VERSION]",
            help="Resolve the rules for this stored rubric version (its scale and its per-rubric "
            "overrides); without it, the programme's rules.",
        ),
    ] = None,
    overrides: Annotated[
        Path | None,
        typer.Option(
            "--overrides",
            metavar="FILE",
            help="The issuer's overrides (YAML, docs/rules.md); default: the "
            "CALIBRATE_RULES_FILE setting.",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The programme rules in force: qualification standard, double scoring and validity
    seeding, resubmission, adjudication, flag thresholds, reliability bands; each with its
    value, default, help and source (docs/rules.md)."""
    from calibrate.report.text import rules_text
    from calibrate.services import programme_rules

    if rubric is None:
        rules = programme_rules(overrides=overrides)
    else:
        with acting(database) as (engine, actor):
            rules = programme_rules(rubric=rubric, engine=engine, actor=actor, overrides=overrides)
    if as_json:
        emit_json({"rubric": rules.rubric, "levels": rules.levels, "rules": rules.rows()})
        return
    heading = (
        f"programme rules for {rules.rubric} ({rules.levels} levels)"
        if rules.rubric
        else "programme rules (scale-dependent rules: give --rubric)"
    )
    typer.echo(rules_text(rules.rows(), heading=heading))


# --- dashboard and demo ------------------------------------------------------------------------

PortOption = Annotated[
    int, typer.Option("--port", min=1, max=65535, help="Port the dashboard listens on.")
]
AddressOption = Annotated[
    str,
    typer.Option(
        "--address",
        help="Address the dashboard listens on: 127.0.0.1 (this machine only, the default); "
        "0.0.0.0 for every network interface.",
    ),
]


def port_problem(address: str, port: int) -> str | None:
    """Why the dashboard cannot listen on ``address:port``, or None: a bind test made as the
    server will bind (``SO_REUSEADDR``, so a port merely in TIME_WAIT counts as free)."""
    import errno
    import socket

    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return f"{address!r} is not an address of this machine ({exc.strerror})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(where)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {address} is already in use; choose another with --port"
            return f"cannot listen on {address} port {port} ({exc.strerror})"
    return None


def streamlit_command(*, address: str, port: int, headless: bool) -> list[str]:
    """The ``streamlit run`` command of the dashboard, with every setting on the command line so
    that it holds however Streamlit's own config files say otherwise (the repository's
    ``.streamlit/config.toml`` says the same for ``streamlit run app.py``)."""
    import importlib.util

    # The dashboard's folder without importing it: importing Streamlit's caching outside
    # `streamlit run` logs "No runtime found" warnings, and costs a second.
    spec = importlib.util.find_spec("calibrate.dashboard")
    assert spec is not None and spec.origin is not None  # our own package
    script = Path(spec.origin).parent / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--client.toolbarMode",
        "minimal",  # no Deploy button or developer menu: this is an application, not a sketch
        "--browser.gatherUsageStats",
        "false",
        "--server.showEmailPrompt",
        "false",  # on a first run Streamlit would wait for an answer before serving
        "--server.enableXsrfProtection",
        "true",  # forms and uploads carry Streamlit's XSRF token (the default, made explicit)
        "--server.enableCORS",
        "true",  # no cross-origin requests (Streamlit's default, made explicit)
    ]


def run_streamlit(cmd: list[str], env: dict[str, str]) -> int:
    """Run the dashboard server until it stops; its exit status (a seam for tests)."""
    import subprocess

    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def serve(
    database: str | None, *, address: str, port: int, headless: bool, demo: bool = False
) -> None:
    """Check the store and the port, then serve the dashboard until Ctrl-C; exits with the
    server's status. In demo mode (``demo``, or the ``CALIBRATE_DEMO`` setting) the served
    app is told so (``CALIBRATE_DEMO=1``) and the demo accounts are printed."""
    import os

    from calibrate.settings import get_settings

    with store_engine(database):  # a bad URL fails here, in one line, not in the browser
        pass
    problem = port_problem(address, port)
    if problem is not None:
        raise CalibrateError(f"cannot serve the dashboard: {problem}")
    env = dict(os.environ)
    if database:
        env["CALIBRATE_DATABASE_URL"] = database
    if demo or get_settings().demo:
        from calibrate.services.demo import DEMO_PASSWORD, demo_accounts

        env["CALIBRATE_DEMO"] = "1"
        typer.echo(f"demo accounts (password {DEMO_PASSWORD!r}; a demo store only):", err=True)
        for username, role, what in demo_accounts():
            typer.echo(f"  {username:<15}{role:<10}{what}", err=True)
    shown = "localhost" if address in ("0.0.0.0", "::") else address
    shown = f"[{shown}]" if ":" in shown else shown
    typer.echo(f"serving the dashboard on http://{shown}:{port} (Ctrl-C to stop)", err=True)
    sys.exit(run_streamlit(streamlit_command(address=address, port=port, headless=headless), env))


@app.command("serve")
def serve_cmd(
    database: DatabaseOption = None,
    port: PortOption = 8501,
    address: AddressOption = "127.0.0.1",
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Serve the dashboard on the store (Ctrl-C to stop). Fails at once, in one line, when the
    port is taken."""
    serve(database, address=address, port=port, headless=headless)


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
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")
    ] = True,
    port: PortOption = 8501,
    address: AddressOption = "127.0.0.1",
    as_json: JsonOption = False,
) -> None:
    """Build the demo programme in the store (shipped rubrics and anchor sets, a simulated
    programme's ratings and its files in --out), then serve the dashboard.

    A demo is one size and seed. Running the same demo again on the same store and folder adds
    nothing. A different demo (or any other ratings) already in the store or the folder is not
    overwritten: the command refuses before writing anything and says how to build this one in
    a store and folder of its own (--database sqlite:///var/classroom.db --out var/classroom).
    """
    from calibrate.services.demo import simulate_demo, store_demo

    if serve_after:  # a taken port fails now, not after the demo is built
        problem = port_problem(address, port)
        if problem is not None:
            raise CalibrateError(f"cannot serve the dashboard: {problem} (or give --no-serve)")
    # Simulate before opening the store: a bad size creates no database.
    programme = simulate_demo(
        size=size, seed=seed, out=out, progress=progress_printer("simulate: ")
    )
    report = store_demo(
        programme,
        out=out,
        database=database,
        actor=acting_account(database),
        progress=progress_printer("import: "),
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        d, r = report.definitions, report.ratings
        typer.echo(f"rubrics and anchor sets: {d.n_written} stored, {d.n_unchanged} already there")
        typer.echo(
            f"ratings: {r.n_written:,} stored, {r.n_unchanged:,} already there "
            f"({report.ratings_csv})"
        )
    if serve_after:
        serve(database, address=address, port=port, headless=False, demo=True)


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
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            min=0,
            metavar="N",
            help="Resamples of submissions for 95% intervals and the verdict (0: estimates "
            "only, no verdict).",
        ),
    ] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", help="Bootstrap seed (same seed, same intervals).")
    ] = 2026,
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    keep: KeepOption = None,
    rubric_dir: RubricDirOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """G study and D study: variance components, G and Phi, and how many assessors per
    submission reach the target."""
    from calibrate.report.text import gstudy_text
    from calibrate.services import reliability

    data = analysed_ratings(
        path,
        database=database,
        context=context,
        rubric=rubric,
        keep=keep,
        rubric_dir=rubric_dir,
    )
    study = reliability(
        data,
        design=design,
        target=target,
        max_assessors=max_assessors,
        criteria=criteria,
        n_boot=bootstrap,
        seed=seed,
        progress=progress_printer("bootstrap ") if bootstrap else None,
    )
    if as_json:
        emit_json(study.to_dict())
    else:
        typer.echo(gstudy_text(study, source=data.source, detected=design is None))


# --- accounts, logins and the audit log --------------------------------------------------------

PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin instead of a hidden prompt (for "
        "scripts; a password is never an option: it would show in the process list and shell "
        "history).",
    ),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log).")]


def read_password(*, from_stdin: bool, confirm: bool = False, prompt: str = "Password") -> str:
    """A password from stdin's first line (``--password-stdin``) or a hidden prompt on the
    terminal (asked twice when ``confirm``)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CalibrateError("--password-stdin: stdin held no password")
        return password
    if not sys.stdin.isatty():
        raise CalibrateError("no terminal to ask the password on: give --password-stdin")
    answer: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return answer


def _who(actor: Actor) -> dict[str, Any]:
    return {
        "name": actor.name,
        "role": actor.role,
        "issuer": actor.issuer,
        "assessor": actor.assessor,
        "grants": sorted(actor.grants),
        "operator": actor.is_operator,
    }


def _described(actor: Actor) -> str:
    if actor.is_operator:
        return f"{actor.name} (the operator: no login, acting with the database's credentials)"
    if actor.role == "board":
        scope = f"of {', '.join(sorted(actor.grants))}" if actor.grants else "with no grants"
        return f"{actor.name} (board reviewer {scope})"
    return f"{actor.name} ({actor.role} of issuer {actor.issuer})"


@app.command("login")
def login_cmd(
    user: Annotated[
        str | None, typer.Option("--user", metavar="U", help="User name (default: asked).")
    ] = None,
    password_stdin: PasswordStdinOption = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Log in to the store: later commands on it act as this account (its role's limits apply)
    until the session expires or `calibrate logout`. The session is kept in
    ~/.config/calibrate/session.json (CALIBRATE_SESSION_FILE), readable by you alone."""
    from calibrate.services import login, logout
    from calibrate.services.session_file import save_session, saved_session

    if user is None:
        if password_stdin or not sys.stdin.isatty():
            raise CalibrateError("give --user U (no terminal to ask the user name on)")
        user = str(typer.prompt("User name", err=True))
    password = read_password(from_stdin=password_stdin)
    with store_engine(database) as engine:
        session = login(user, password, engine=engine)
        previous = saved_session(database)
        if previous is not None:
            logout(previous.token, engine=engine)
    path = save_session(database, session)
    expires = session.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if as_json:
        emit_json({**_who(session.actor), "expires_at": expires, "session_file": str(path)})
    else:
        typer.echo(f"logged in as {_described(session.actor)} until {expires}")


@app.command("logout")
def logout_cmd(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """End the session of the store (later commands act as the operator)."""
    from calibrate.services import logout
    from calibrate.services.session_file import forget_session, saved_session

    saved = saved_session(database)
    if saved is not None:
        with store_engine(database) as engine:
            logout(saved.token, engine=engine)
        forget_session(database)
    if as_json:
        emit_json({"logged_out": saved is not None, "username": saved and saved.username})
    elif saved is None:
        typer.echo("not logged in to this store")
    else:
        typer.echo(f"logged out {saved.username}")


@app.command("whoami")
def whoami_cmd(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """The account commands on the store act as: the logged-in account, or the operator."""
    from calibrate.services.session_file import saved_session, store_key

    with acting(database) as (_engine, actor):
        pass
    saved = saved_session(database) if not actor.is_operator else None
    expires = saved.expires_at if saved is not None else None
    if as_json:
        emit_json({**_who(actor), "expires_at": expires, "store": store_key(database)})
    else:
        typer.echo(_described(actor) + (f", session until {expires}" if expires else ""))


accounts_app = typer.Typer(
    help="Accounts of an issuer: add, list, disable, re-role, passwords, board grants "
    "(administrators: their issuer's; the operator: any)."
)
app.add_typer(accounts_app, name="accounts")

RoleHelp = "assessor, lead, admin or board"


def _account_line(account: Any) -> str:
    scope = (
        f"grants {', '.join(account.grants) or '-'}"
        if account.role == "board"
        else f"issuer {account.issuer}"
    )
    extra = "".join(
        (
            f", assessor {account.assessor}" if account.assessor else "",
            f", sso {account.sso_identity}" if account.sso_identity else "",
            ", DISABLED" if account.disabled else "",
        )
    )
    return f"{account.username} ({account.role}, {scope}{extra})"


def _account_out(account: Any, as_json: bool, done: str) -> None:
    if as_json:
        emit_json(account.to_dict())
    else:
        typer.echo(f"{done}: {_account_line(account)}")


@accounts_app.command("create-admin")
def accounts_create_admin_cmd(
    username: Annotated[str, typer.Argument(help="User name of the administrator.")],
    issuer: Annotated[
        str, typer.Option("--issuer", metavar="KEY", help="The issuer (created if new).")
    ] = "default",
    password_stdin: PasswordStdinOption = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The first administrator of an issuer (the operator only: no login). The password is
    asked twice, or read from stdin."""
    from calibrate.services import create_first_admin, managed_accounts

    with acting(database) as (engine, actor):
        if not actor.is_operator or any(  # refused before a password is asked
            a.role == "admin" and a.issuer == issuer
            for a in managed_accounts(engine=engine, actor=actor)
        ):
            create_first_admin(
                engine=engine, actor=actor, username=username, password="", issuer=issuer
            )
        password = read_password(from_stdin=password_stdin, confirm=True)
        account = create_first_admin(
            engine=engine, actor=actor, username=username, password=password, issuer=issuer
        )
    _account_out(account, as_json, "added")


@accounts_app.command("add")
def accounts_add_cmd(
    username: Annotated[str, typer.Argument(help="User name of the new account.")],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help=RoleHelp + ".")],
    issuer: Annotated[
        str | None,
        typer.Option("--issuer", metavar="KEY", help="Its issuer (an administrator: their own)."),
    ] = None,
    assessor: Annotated[
        str | None,
        typer.Option(
            "--assessor", metavar="KEY", help="The assessor key its ratings carry (assessor, lead)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    sso: Annotated[
        str | None,
        typer.Option(
            "--sso",
            metavar="EMAIL",
            help="Single sign-on identity (the e-mail the dashboard's OpenID Connect login "
            "vouches for); without --password-stdin the account has no password.",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option("--grant", metavar="ISSUER", help="A board reviewer's issuer (repeat)."),
    ] = None,
    password_stdin: PasswordStdinOption = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an account (administrators: of their issuer; the operator: any). The password is
    asked twice, or read from stdin; an account with --sso needs none."""
    from calibrate.services import add_account, managed_accounts

    with acting(database) as (engine, actor):
        managed_accounts(
            engine=engine, actor=actor
        )  # refuses one who manages no accounts: no prompt
        password = (
            None
            if sso is not None and not password_stdin
            else read_password(from_stdin=password_stdin, confirm=True)
        )
        account = add_account(
            engine=engine,
            actor=actor,
            username=username,
            role=role,
            password=password,
            issuer=issuer,
            assessor=assessor,
            display_name=name,
            sso_identity=sso,
            grants=tuple(grant or ()),
        )
    _account_out(account, as_json, "added")


@accounts_app.command("list")
def accounts_list_cmd(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """The accounts you manage (the operator: all)."""
    from calibrate.services import managed_accounts

    with acting(database) as (engine, actor):
        found = managed_accounts(engine=engine, actor=actor)
    if as_json:
        emit_json({"accounts": [a.to_dict() for a in found]})
    else:
        for account in found:
            typer.echo(_account_line(account))


def _set_disabled(username: str, disabled: bool, reason: str | None, database: str | None) -> Any:
    from calibrate.services import set_disabled

    with acting(database) as (engine, actor):
        return set_disabled(
            engine=engine, actor=actor, username=username, disabled=disabled, reason=reason
        )


@accounts_app.command("disable")
def accounts_disable_cmd(
    username: Annotated[str, typer.Argument(help="The account.")],
    reason: ReasonOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disable an account: its sessions end at once, it cannot log in."""
    _account_out(_set_disabled(username, True, reason, database), as_json, "disabled")


@accounts_app.command("enable")
def accounts_enable_cmd(
    username: Annotated[str, typer.Argument(help="The account.")],
    reason: ReasonOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enable a disabled account again."""
    _account_out(_set_disabled(username, False, reason, database), as_json, "enabled")


@accounts_app.command("role")
def accounts_role_cmd(
    username: Annotated[str, typer.Argument(help="The account.")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help=RoleHelp + ".")],
    reason: ReasonOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give an account another role (its sessions end)."""
    from calibrate.services import set_role

    with acting(database) as (engine, actor):
        account = set_role(engine=engine, actor=actor, username=username, role=role, reason=reason)
    _account_out(account, as_json, "changed")


@accounts_app.command("password")
def accounts_password_cmd(
    username: Annotated[str, typer.Argument(help="The account (yours, or one you manage).")],
    password_stdin: PasswordStdinOption = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a password (asked twice, or read from stdin); every session of the account ends."""
    from calibrate.services import managed_accounts, set_password

    with acting(database) as (engine, actor):
        if username != actor.name and username not in {
            a.username for a in managed_accounts(engine=engine, actor=actor)
        }:  # refused before a password is asked
            raise CalibrateError(f"no account {username!r}")
        password = read_password(from_stdin=password_stdin, confirm=True, prompt="New password")
        account = set_password(engine=engine, actor=actor, username=username, password=password)
    _account_out(account, as_json, "password set")


def _grant(username: str, issuer: str, granted: bool, database: str | None) -> Any:
    from calibrate.services import grant_board

    with acting(database) as (engine, actor):
        return grant_board(
            engine=engine, actor=actor, username=username, issuer=issuer, granted=granted
        )


@accounts_app.command("grant")
def accounts_grant_cmd(
    username: Annotated[str, typer.Argument(help="The board reviewer.")],
    issuer: Annotated[str, typer.Argument(metavar="ISSUER", help="The issuer granting access.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Grant a board reviewer read access to an issuer's pseudonymised aggregates."""
    _account_out(_grant(username, issuer, True, database), as_json, "granted")


@accounts_app.command("revoke")
def accounts_revoke_cmd(
    username: Annotated[str, typer.Argument(help="The board reviewer.")],
    issuer: Annotated[str, typer.Argument(metavar="ISSUER", help="The issuer withdrawing.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a board reviewer's access to an issuer."""
    _account_out(_grant(username, issuer, False, database), as_json, "revoked")


@app.command("audit")
def audit_cmd(
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="The newest N events.")
    ] = 50,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            metavar="A",
            help="Only events of this action (ratings.import, ratings.correct, ratings.export, "
            "account.add, ...).",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log, newest first: who did what, when, to which issuer's data (administrators
    and board reviewers: their issuers' events)."""
    from calibrate.services import audit_log

    with acting(database) as (engine, actor):
        events = audit_log(engine=engine, actor=actor, limit=limit, action=action)
    if as_json:
        emit_json({"events": [e.to_dict() for e in events]})
        return
    for event in events:
        e = event.to_dict()
        detail = json.dumps(e["detail"], ensure_ascii=False, separators=(",", ":"))
        typer.echo(
            f"#{e['seq']} {e['at']} {e['actor']} {e['action']} {e['subject']}"
            + (f" [{e['issuer']}]" if e["issuer"] else "")
            + (f" {detail}" if e["detail"] else "")
        )


@app.command("verify")
def verify_cmd(
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            metavar="SEQ:HASH",
            help="A head printed by an earlier verify: checks that the log up to it is unchanged.",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the store's integrity: the audit log's hash chain, every rating against the seal
    that recorded it, revision chains, references. Exit status 0 when it holds, 1 when not
    (each problem printed); prints the head to record."""
    from calibrate.services import verify

    with acting(database) as (engine, actor):
        found = verify(engine=engine, actor=actor, expect=expect)
    if as_json:
        emit_json(found.to_dict())
    else:
        for problem in found.problems:
            typer.echo(f"problem: {problem}", err=True)
        verdict = "ok" if found.ok else f"NOT OK: {len(found.problems)} problem(s)"
        typer.echo(f"{verdict}: {found.events:,} audit events, {found.ratings:,} ratings checked")
        if found.head is not None:
            typer.echo(f"head {found.head} (record it; later: calibrate verify --expect HEAD)")
    if not found.ok:
        raise typer.Exit(1)


export_app = typer.Typer(help="Export stored data (administrators and the operator).")
app.add_typer(export_app, name="export")


@export_app.command("ratings")
def export_ratings_cmd(
    rubric: Annotated[
        str, typer.Option("--rubric", metavar="ID[@VERSION]", help="The stored rubric version.")
    ],
    context: Annotated[
        str, typer.Option("--context", help="live, practice, qualification or validity.")
    ] = "live",
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE.csv", help="Write here (mode 0600); default: stdout."),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The current ratings of a rubric version as CSV (the import format), every cell that a
    spreadsheet would run as a formula (=, +, -, @, tab, CR first) prefixed with an apostrophe;
    recorded in the audit log."""
    import os

    from calibrate.services.exports import export_ratings

    if as_json and out is None:
        raise CalibrateError("--json needs --out FILE.csv (the CSV itself goes to stdout)")
    with acting(database) as (engine, actor):
        text = export_ratings(engine=engine, actor=actor, rubric=rubric, context=context)
    rows = text.count("\n") - 1
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise CalibrateError(f"cannot write {out}: {exc.strerror or exc}") from None
    if as_json:
        emit_json({"out": str(out), "rows": rows, "rubric": rubric, "context": context.lower()})
    else:
        typer.echo(f"wrote {rows:,} ratings to {out}")


# --- practice and qualification rounds (issue 11, parts 1, 2 and 7) ---------------------------
#
# An assessor's own calibration: practise on anchors with feedback after each, take
# qualification rounds, see their standing. Each command calls one service of
# calibrate.services.calibration; `practice score` and `round score` first read the rubric (the
# attempt's, through services.rubrics or round_view) only to turn CRITERION=LEVEL pairs or
# --scores into level scores, which the service checks again.

practice_app = typer.Typer(
    help="Practise on anchors: score one, then see the experts' scores and rationale beside "
    "yours (assessors and leads)."
)
app.add_typer(practice_app, name="practice")
round_app = typer.Typer(
    help="Qualification rounds: score a set of anchors blind, then the result against the "
    "qualification standard (assessors and leads; a round's result also administrators)."
)
app.add_typer(round_app, name="round")

if TYPE_CHECKING:
    from calibrate.rubric import Rubric
    from calibrate.services.calibration import (
        AnchorFeedback,
        Qualification,
        RoundResult,
        RoundView,
    )

WIDTH = 100
"""Width text output wraps artifacts, descriptors and rationales at."""

TakeRubricOption = Annotated[
    str, typer.Option("--rubric", metavar="ID[@VERSION]", help="The stored rubric version.")
]
LevelsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="CRITERION=LEVEL",
        help="A level per criterion: its score or its label, any case ('-' or '_' for a "
        "space), e.g. reflection=3 or reflection=Demonstrated.",
    ),
]
ScoresOption = Annotated[
    str | None,
    typer.Option(
        "--scores",
        metavar="L1,L2,...",
        help="Instead of CRITERION=LEVEL: one level per criterion, in the rubric's order, "
        "comma-separated (e.g. 3,2,3,3,2).",
    ),
]


@contextmanager
def taking(
    database: str | None, *, manager_hint: str | None = None, who: str = "an assessor or lead"
) -> Iterator[tuple[Engine, Actor]]:
    """:func:`acting` for an assessor's own work: a refusal of an account without an assessor
    key says what to do instead (log in as ``who``; an administrator's ``manager_hint``)."""
    from calibrate.errors import AccessDenied

    with acting(database) as (engine, actor):
        try:
            yield engine, actor
        except AccessDenied as exc:
            hints = []
            if actor.is_operator:
                hints.append(
                    f"no login: the operator has no assessor key; calibrate login as {who}"
                )
            if manager_hint is not None and actor.may("workflow.manage"):
                hints.append(manager_hint)
            if actor.assessor or not hints:
                raise
            raise AccessDenied(f"{exc} ({'; '.join(hints)})") from None


def _visible_rubrics(engine: Engine, actor: Actor, rubric: str | None = None) -> list[Rubric]:
    """The rubric versions the actor may read (:func:`calibrate.services.rubrics`), or those
    ``rubric`` names (``id@version``, or ``id``: every version of it)."""
    from calibrate.services import rubrics

    found = rubrics(engine=engine, actor=actor)
    if rubric is None:
        return found
    chosen = [r for r in found if rubric in (r.key, r.id)]
    if not chosen:
        known = ", ".join(sorted(r.key for r in found)) or "none"
        raise CalibrateError(f"rubric {rubric!r} is not in the store (stored: {known})")
    return chosen


def _level_text(rubric: Rubric) -> str:
    return ", ".join(f"{level.score} {level.label}" for level in rubric.levels)


def _read_level(text: str, rubric: Rubric, given: str) -> int:
    """The score of ``text``, a level's score or label (any case; ``-``/``_`` for a space)."""

    def norm(s: str) -> str:
        return " ".join(s.replace("-", " ").replace("_", " ").split()).casefold()

    for level in rubric.levels:
        if norm(text) == norm(level.label):
            return level.score
    try:
        score = int(text)
    except ValueError:
        score = None
    if score is None or score not in rubric.scores:
        raise CalibrateError(
            f"{given}: {text!r} is not a level of {rubric.key} ({_level_text(rubric)})"
        )
    return score


def _pairs(levels: list[str]) -> list[tuple[str, str, str]]:
    """``(criterion, level, as given)`` of CRITERION=LEVEL arguments, each criterion once."""
    out: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for given in levels:
        criterion, eq, level = given.partition("=")
        criterion, level = criterion.strip(), level.strip()
        if not eq or not criterion or not level:
            raise CalibrateError(
                f"{given!r} is not CRITERION=LEVEL (e.g. reflection=3 or reflection=Demonstrated)"
            )
        if criterion in seen:
            raise CalibrateError(
                f"criterion {criterion} is given twice: {seen[criterion]!r}, {given!r}"
            )
        seen[criterion] = given
        out.append((criterion, level, repr(given)))
    return out


def levels_read(
    levels: list[str],
    listed: str | None,
    rubrics: list[Rubric],
    *,
    hint: str = "calibrate practice next prints it",
) -> dict[str, int]:
    """The scores of CRITERION=LEVEL arguments, or of ``--scores`` in the rubric's criterion
    order, read on ``rubrics``: the attempt's rubric (a practice, a round), or the rubrics it
    may be of (a queue handle or a submission key names none), every one of which that has the
    criteria named (or as many) must then read them alike; else ``--rubric`` is asked for, and
    ``hint`` says where it is printed. Missing criteria are left to the service to name.

    Raises
    ------
    CalibrateError
        Pairs and ``--scores`` both, or neither; a malformed pair (named); a criterion or a
        level no rubric has; a reading that differs between rubrics (give ``--rubric``).
    """
    if levels and listed is not None:
        raise CalibrateError("give CRITERION=LEVEL arguments or --scores, not both")
    if listed is not None:
        values = [v.strip() for v in listed.split(",")]
        if not all(values):
            raise CalibrateError(f"--scores {listed!r}: a level is empty")
        fit = [r for r in rubrics if len(r.criteria) == len(values)]
        if not fit:
            sizes = " or ".join(str(n) for n in sorted({len(r.criteria) for r in rubrics}))
            which = f"{rubrics[0].key} has" if len(rubrics) == 1 else "the rubrics have"
            raise CalibrateError(
                f"--scores {listed!r} gives {len(values)} levels; {which} {sizes} criteria "
                "(one level each, in the rubric's order)"
            )
        asked = [
            [
                (c.id, v, f"--scores level {i} ({c.id})")
                for i, (c, v) in enumerate(zip(r.criteria, values, strict=True), start=1)
            ]
            for r in fit
        ]
    elif levels:
        named = _pairs(levels)
        fit = [r for r in rubrics if all(c in r.criterion_ids for c, _, _ in named)]
        if not fit:
            unknown = next(
                ((c, g) for c, _, g in named if not any(c in r.criterion_ids for r in rubrics)),
                None,
            )
            if unknown is not None:
                of = (
                    f" (criteria of {rubrics[0].key}: {', '.join(rubrics[0].criterion_ids)})"
                    if len(rubrics) == 1
                    else ""
                )
                raise CalibrateError(f"unknown criterion {unknown[0]!r} in {unknown[1]}{of}")
            raise CalibrateError(
                f"the criteria given ({', '.join(c for c, _, _ in named)}) are not of one rubric"
            )
        asked = [named] * len(fit)
    else:
        raise CalibrateError(
            "no scores: give CRITERION=LEVEL for every criterion, or --scores L1,L2,... in the "
            "rubric's order"
        )
    readings: list[dict[str, int]] = []
    problems: list[CalibrateError] = []
    for rubric, pairs in zip(fit, asked, strict=True):
        try:
            readings.append({c: _read_level(v, rubric, g) for c, v, g in pairs})
        except CalibrateError as exc:
            problems.append(exc)
    if not readings:
        raise problems[0]
    if problems or any(r != readings[0] for r in readings):
        raise CalibrateError(
            "these levels read differently on "
            f"{', '.join(r.key for r in fit)}: give --rubric ID@VERSION ({hint})"
        )
    return readings[0]


def _wrap(text: str | None, indent: str = "  ") -> list[str]:
    """``text`` wrapped at :data:`WIDTH`, its paragraphs (lines) kept."""
    import textwrap

    paragraphs = (text or "").strip().splitlines()
    return [
        textwrap.fill(
            p, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )
        if p.strip()
        else ""
        for p in paragraphs
    ]


def _artifact_lines(artifact: dict[str, str | None]) -> list[str]:
    lines = [f"artifact: {artifact.get('title') or '(untitled)'}"]
    for part in ("description", "excerpt"):
        if artifact.get(part):
            lines += [f"{part}:", *_wrap(artifact[part])]
    return lines


def _rubric_lines(rubric: Rubric, mark: Callable[[str, int], str] | None = None) -> list[str]:
    """The rubric's criteria with every level's descriptor, to score by; ``mark(criterion,
    score)``, when given, prefixes each level (which readings chose it)."""
    import textwrap

    lines = [f"rubric {rubric.key}: {rubric.title}", f"levels: {_level_text(rubric)}"]
    for c in rubric.criteria:
        lines.append(f"{c.id}: {c.title}")
        for level in rubric.levels:
            text = " ".join(c.descriptors[level.score].split())
            prefix = "" if mark is None else mark(c.id, level.score)
            lines.append(
                textwrap.fill(
                    f"{prefix}{level.score} {level.label}: {text}",
                    WIDTH,
                    initial_indent="  ",
                    subsequent_indent="    " + " " * len(prefix),
                    break_on_hyphens=False,
                )
            )
    return lines


def rubric_detail(rubric: Rubric) -> dict[str, Any]:
    """The rubric an anchor is scored by, for ``--json``: ``rubric_title``, ``levels``
    (``score``, ``label``) and ``criteria`` (``id``, ``title``, ``part``, ``levels`` with each
    level's ``descriptor``)."""
    return {
        "rubric_title": rubric.title,
        "levels": [{"score": lv.score, "label": lv.label} for lv in rubric.levels],
        "criteria": [
            {
                "id": c.id,
                "title": c.title,
                "part": c.part,
                "levels": [
                    {"score": lv.score, "label": lv.label, "descriptor": c.descriptors[lv.score]}
                    for lv in rubric.levels
                ],
            }
            for c in rubric.criteria
        ],
    }


def _submit_lines(
    command: str, rubric: Rubric, tail: str = "", what: str = "score it"
) -> list[str]:
    pairs = " ".join(f"{c}=LEVEL" for c in rubric.criterion_ids)
    order = ",".join("L" for _ in rubric.criteria)
    return [
        f"{what} (each LEVEL a score or a label):",
        f"  {command} {pairs}{tail}",
        f"  or: {command} --scores {order}{tail}   (in the order above)",
    ]


def _decision(passed: bool) -> str:
    return "pass" if passed else "not yet"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _feedback_lines(feedback: AnchorFeedback) -> list[str]:
    """A scored anchor against the experts: the table (yours, experts', gap) and per criterion
    the rationale and both levels' descriptors."""
    rows = [["criterion", "yours", "experts'", "gap", ""]]
    for c in feedback.criteria:
        rows.append(
            [
                c.criterion,
                f"{c.score} {c.score_label}",
                f"{c.expert} {c.expert_label}",
                f"{c.gap:+d}" if c.gap else "0",
                "" if c.gap == 0 else "missed",
            ]
        )
    same = feedback.decision == feedback.expert_decision
    rows.append(
        [
            "decision",
            _decision(feedback.decision),
            _decision(feedback.expert_decision),
            "",
            "" if same else "differs",
        ]
    )
    exact = sum(c.gap == 0 for c in feedback.criteria)
    lines = [
        *_table(rows),
        f"{exact} of {len(feedback.criteria)} criteria equal to the experts'",
    ]
    for c in feedback.criteria:
        lines += ["", f"{c.criterion}: {c.title}", "  experts' rationale:"]
        lines += _wrap(c.rationale, "    ")
        if c.gap == 0:
            lines += [f"  both, {c.expert} {c.expert_label}:", *_wrap(c.expert_descriptor, "    ")]
        else:
            lines += [
                f"  yours, {c.score} {c.score_label}:",
                *_wrap(c.score_descriptor, "    "),
                f"  experts', {c.expert} {c.expert_label}:",
                *_wrap(c.expert_descriptor, "    "),
            ]
    return lines


def _practice_lines(attempt: str, feedback: AnchorFeedback) -> list[str]:
    title = feedback.artifact.get("title") or "(untitled)"
    return [f"practice {attempt} on {feedback.rubric}: {title}", "", *_feedback_lines(feedback)]


def _echo(lines: list[str]) -> None:
    typer.echo("\n".join(lines))


@practice_app.command("next")
def practice_next_cmd(
    rubric: TakeRubricOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The anchor to practise on (the open one, or the one you practised least): its artifact,
    the rubric's descriptors and the command to submit your scores. Nothing of the experts'
    answer is shown before you submit."""
    from calibrate.services import practice_next

    with taking(database) as (engine, actor):
        item = practice_next(engine=engine, actor=actor, rubric=rubric)
        (found,) = _visible_rubrics(engine, actor, item.rubric)
    if as_json:
        emit_json({**item.to_dict(), **rubric_detail(found)})
        return
    _echo(
        [
            f"practice {item.attempt} on {item.rubric}",
            "",
            *_artifact_lines(item.artifact),
            "",
            *_rubric_lines(found),
            "",
            *_submit_lines(f"calibrate practice score {item.attempt} --rubric {found.key}", found),
        ]
    )


@practice_app.command("score")
def practice_score_cmd(
    attempt: Annotated[
        str, typer.Argument(metavar="ATTEMPT", help="The practice key (P-...) practice next gave.")
    ],
    levels: LevelsArgument = None,
    scores: ScoresOption = None,
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric",
            metavar="ID[@VERSION]",
            help="The practice's rubric (optional: the practice key gives it; when given it "
            "must be the practice's).",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit your scores of the practice anchor, then see per criterion yours beside the
    experts', the gap, their rationale and both levels' descriptors, and both pass decisions."""
    from calibrate.services import practice_score, practice_view

    with taking(database) as (engine, actor):
        item = practice_view(engine=engine, actor=actor, attempt=attempt)
        if rubric is not None and rubric not in (item.rubric, item.rubric.partition("@")[0]):
            raise CalibrateError(f"practice {attempt} is on {item.rubric}, not {rubric}")
        given = levels_read(levels or [], scores, _visible_rubrics(engine, actor, item.rubric))
        feedback = practice_score(engine=engine, actor=actor, attempt=attempt, scores=given)
    if as_json:
        emit_json(feedback.to_dict())
    else:
        _echo(_practice_lines(attempt, feedback))


@practice_app.command("feedback")
def practice_feedback_cmd(
    attempt: Annotated[str, typer.Argument(metavar="ATTEMPT", help="The practice key (P-...).")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The feedback of a practice anchor you scored (as practice score printed it)."""
    from calibrate.services import practice_feedback

    with taking(database) as (engine, actor):
        feedback = practice_feedback(engine=engine, actor=actor, attempt=attempt)
    if as_json:
        emit_json(feedback.to_dict())
    else:
        _echo(_practice_lines(attempt, feedback))


def _figure(value: float, name: str) -> str:
    return f"{value:g}" if name == "non_adjacent" else f"{value:.0%}"


def _result_lines(result: RoundResult) -> list[str]:
    """A finished round: pass or fail, each figure against its threshold, every criterion of
    every anchor with its gap (missed ones marked), the note."""
    verdict = "PASSED" if result.passed else "NOT PASSED"
    when = result.finished_at
    finished = "" if when is None else f", finished {when:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"qualification round {result.attempt} of {result.assessor} on {result.rubric}: "
        f"{verdict}{finished}",
        "",
    ]
    rows = [["figure", "value", "threshold", ""]]
    for f in result.figures:
        rows.append(
            [
                f["label"],
                _figure(f["value"], f["name"]),
                f"{f['direction']} {_figure(f['threshold'], f['name'])}",
                "met" if f["met"] else "NOT MET",
            ]
        )
    lines += _table(rows)
    lines += ["", "anchors (a gap is your score minus the experts'):"]
    for a in result.anchors:
        missed = [c for c in a.criteria if c.gap != 0]
        decision = f"decision {_decision(a.decision)}"
        if a.decision != a.expert_decision:
            decision += f", experts' {_decision(a.expert_decision)}: MISSED"
        lines.append(f"{a.position}. {a.artifact.get('title') or '(untitled)'} ({decision})")
        rows = [
            [
                f"   {c.criterion}",
                f"yours {c.score}",
                f"experts' {c.expert}",
                f"gap {c.gap:+d}" if c.gap else "gap 0",
                "missed" if c.gap else "",
            ]
            for c in a.criteria
        ]
        lines += _table(rows)
        for c in missed:
            lines += [f"   {c.criterion}, the experts' rationale:", *_wrap(c.rationale, "     ")]
    if result.note:
        lines += ["", f"note: {result.note}"]
    return lines


def _numbers(positions: list[int]) -> str:
    return ", ".join(str(p) for p in positions) or "none"


def _view_lines(view: RoundView, rubric: Rubric) -> list[str]:
    """A round in progress (which anchors are scored; the next one to score with the rubric and
    the command), or finished (the result)."""
    if view.result is not None:
        return _result_lines(view.result)
    lines = [
        f"qualification round {view.attempt} on {view.rubric}: {view.scored} of "
        f"{len(view.items)} anchors scored",
        f"scored: {_numbers([i.position for i in view.items if i.scored])}; to score: "
        f"{_numbers([i.position for i in view.items if not i.scored])}",
    ]
    if view.note:
        lines.append(f"note: {view.note}")
    item = view.next_item
    if item is not None:
        lines += [
            "",
            f"next: anchor {item.position} of {item.of}",
            *_artifact_lines(item.artifact),
            "",
            *_rubric_lines(rubric),
            "",
            *_submit_lines(f"calibrate round score {view.attempt} {item.position}", rubric),
        ]
    return lines


def _view_out(view: RoundView, rubric: Rubric, as_json: bool) -> None:
    if as_json:
        emit_json({**view.to_dict(), **rubric_detail(rubric)})
    else:
        _echo(_view_lines(view, rubric))


@round_app.command("start")
def round_start_cmd(
    rubric: TakeRubricOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a qualification round on a rubric (or return your open one): its anchors, and the
    first to score with the rubric's descriptors. Refused, with the reason, when you are
    qualified, have used the period's rounds, or have not practised since your last round."""
    from calibrate.services import round_start

    with taking(database) as (engine, actor):
        view = round_start(engine=engine, actor=actor, rubric=rubric)
        (found,) = _visible_rubrics(engine, actor, view.rubric)
    _view_out(view, found, as_json)


@round_app.command("show")
def round_show_cmd(
    attempt: Annotated[str, typer.Argument(metavar="ATTEMPT", help="The round key (Q-...).")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your round: which anchors are scored, and the next one to score (its artifact, the
    rubric, the command); a finished round's result."""
    from calibrate.services import round_view

    with taking(database) as (engine, actor):
        view = round_view(engine=engine, actor=actor, attempt=attempt)
        (found,) = _visible_rubrics(engine, actor, view.rubric)
    _view_out(view, found, as_json)


@round_app.command("score")
def round_score_cmd(
    attempt: Annotated[str, typer.Argument(metavar="ATTEMPT", help="The round key (Q-...).")],
    position: Annotated[
        int,
        typer.Argument(metavar="POSITION", help="The anchor's number in the round (1, 2, ...)."),
    ],
    levels: LevelsArgument = None,
    scores: ScoresOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit your scores of one anchor of your round (final: a round's scores are not
    revised); after the last anchor, the round's result."""
    from calibrate.services import round_score, round_view

    with taking(database) as (engine, actor):
        before = round_view(engine=engine, actor=actor, attempt=attempt)
        (found,) = _visible_rubrics(engine, actor, before.rubric)
        given = levels_read(levels or [], scores, [found])
        view = round_score(
            engine=engine, actor=actor, attempt=attempt, position=position, scores=given
        )
    if as_json:
        emit_json({**view.to_dict(), **rubric_detail(found)})
        return
    if view.result is not None:
        _echo(_result_lines(view.result))
        return
    done = f"{view.scored} of {len(view.items)} done"
    lines = [f"anchor {position} of round {attempt} scored: {done}"]
    item = view.next_item
    if item is not None:
        lines.append(
            f"next: anchor {item.position}, {item.artifact.get('title') or '(untitled)'} "
            f"(calibrate round show {attempt})"
        )
    _echo(lines)


@round_app.command("result")
def round_result_cmd(
    attempt: Annotated[str, typer.Argument(metavar="ATTEMPT", help="The round key (Q-...).")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A finished round's result: each figure against its threshold (met or not), every
    criterion of every anchor against the experts (missed ones marked, with the rationale), the
    note, passed or not. Yours; administrators: any round on their issuer's rubrics. Exit
    status 0 whether the round passed or not."""
    from calibrate.services import round_result

    with taking(database) as (engine, actor):
        result = round_result(engine=engine, actor=actor, attempt=attempt)
    if as_json:
        emit_json(result.to_dict())
    else:
        _echo(_result_lines(result))


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d}"


def _standing_row(q: Qualification) -> list[str]:
    e = q.eligibility
    if e.open_round is not None:
        nxt = f"open {e.open_round}"
    elif e.allowed:
        nxt = "now"
    else:
        nxt = _when(e.next_round_at)
    reason = q.reason if e.allowed or e.reason == q.reason else f"{q.reason}; {e.reason}"
    return [
        q.assessor,
        q.rubric,
        q.status,
        _when(q.qualified_until),
        f"{e.rounds_in_period}/{e.max_rounds}",
        nxt,
        reason,
    ]


@app.command("qualification")
def qualification_cmd(
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric", metavar="ID[@VERSION]", help="One rubric version (default: every one)."
        ),
    ] = None,
    everyone: Annotated[
        bool,
        typer.Option(
            "--all", help="Every assessor of the issuer (administrators and the operator)."
        ),
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your standing per rubric version: qualified (until when), not qualified, expired or
    suspended, with the reason; rounds used of the period's maximum and when the next round is
    possible. With --all, every assessor's (administrators and the operator)."""
    from calibrate.services import qualification, qualifications

    with taking(database, manager_hint="--all: every assessor's standing") as (engine, actor):
        if everyone:
            found = qualifications(engine=engine, actor=actor, rubric=rubric)
        else:
            chosen = (
                [rubric] if rubric is not None else [r.key for r in _visible_rubrics(engine, actor)]
            )
            found = [qualification(engine=engine, actor=actor, rubric=key) for key in chosen]
    if as_json:
        emit_json({"qualifications": [q.to_dict() for q in found]})
        return
    if not found:
        typer.echo("no rubric versions in the store" if not everyone else "no assessors")
        return
    header = ["assessor", "rubric", "status", "until", "rounds", "next round", "reason"]
    _echo(_table([header, *(_standing_row(q) for q in found)]))


# --- end of practice and qualification rounds --------------------------------------------------


# --- live scoring queue, adjudication, submissions, results, suspensions (issue 11, parts 3-5, 7)
#
# An assessor's live work (queue next|score|release), a lead's adjudications (adjudicate
# list|show|resolve), an administrator's submissions, results and suspensions. Each command calls
# one service of calibrate.services.queue; `queue score` and `adjudicate resolve` first read the
# issuer's rubrics (services.rubrics) only to turn CRITERION=LEVEL pairs or --scores into level
# scores, which the service checks again, and `queue next`, `adjudicate show` and `results` read
# them to print the rubric's criteria. Nothing here tells a validity anchor from a submission:
# the service hands both out alike, and `queue next` prints what it is given.

queue_app = typer.Typer(
    help="Your live scoring queue: the next submission with the rubric, score it, or give it "
    "back (qualified assessors and leads)."
)
app.add_typer(queue_app, name="queue")
adjudicate_app = typer.Typer(
    help="Discrepant double scores waiting for a lead assessor: list them, see both readings "
    "side by side, resolve one with your reading and a reason (leads)."
)
app.add_typer(adjudicate_app, name="adjudicate")
submissions_app = typer.Typer(
    help="Enter submissions for live scoring (administrators and the operator)."
)
app.add_typer(submissions_app, name="submissions")

ItemRubricOption = Annotated[
    str | None,
    typer.Option(
        "--rubric",
        metavar="ID[@VERSION]",
        help="The item's rubric (printed with it): needed for --scores or labels when your "
        "issuer's rubrics would read them differently.",
    ),
]
RubricOnlyOption = Annotated[
    str | None,
    typer.Option(
        "--rubric", metavar="ID[@VERSION]", help="One rubric version (default: every one)."
    ),
]
RequiredReasonOption = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="Why (required; kept with the record).")
]


def _moment(iso: str | None) -> str:
    """An ISO time of a service's result as ``YYYY-MM-DD HH:MM UTC``; ``-`` for none."""
    from datetime import UTC
    from datetime import datetime as dt

    if iso is None:
        return "-"
    return f"{dt.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _scores_text(scores: dict[str, int], rubric: Rubric | None) -> str:
    """Scores in the rubric's criterion order (``3 2 3 3 2``), or by name without the rubric."""
    if rubric is None:
        return " ".join(f"{c}={v}" for c, v in scores.items())
    return " ".join(str(scores[c]) for c in rubric.criterion_ids)


def _labelled(score: int, rubric: Rubric) -> str:
    return f"{score} {rubric.label(score)}"


# --- the assessor's queue


@queue_app.command("next")
def queue_next_cmd(
    rubric: RubricOnlyOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The next submission of your queue (the one you hold, or a new one): its handle, rubric,
    artifact and due time, the rubric's criteria with their level descriptors, and the command
    to score it; or why there is none (not qualified, suspended and why, nothing waiting).
    Exit status 0 either way."""
    from calibrate.services import queue_next

    with taking(database) as (engine, actor):
        got = queue_next(engine=engine, actor=actor, rubric=rubric)
        found = None if got.item is None else _visible_rubrics(engine, actor, got.item.rubric)[0]
    if as_json:
        detail = (
            {"rubric_title": None, "levels": [], "criteria": []}
            if found is None
            else rubric_detail(found)
        )
        emit_json({**got.to_dict(), **detail})
        return
    item = got.item
    if item is None or found is None:
        typer.echo(got.message)
        return
    command = f"calibrate queue score {item.handle} --rubric {found.key}"
    _echo(
        [
            f"next: {item.handle} on {item.rubric}, handed to you "
            f"{item.assigned_at:%Y-%m-%d %H:%M} UTC",
            got.message,
            "",
            *_artifact_lines(item.artifact),
            "",
            *_rubric_lines(found),
            "",
            *_submit_lines(command, found, tail=" [--comment TEXT]"),
            f"give it back: calibrate queue release {item.handle} --reason TEXT",
        ]
    )


@queue_app.command("score")
def queue_score_cmd(
    handle: Annotated[
        str, typer.Argument(metavar="HANDLE", help="The item's handle (S-...) queue next gave.")
    ],
    levels: LevelsArgument = None,
    scores: ScoresOption = None,
    comment: Annotated[
        str | None,
        typer.Option("--comment", metavar="TEXT", help="An optional comment on your reading."),
    ] = None,
    rubric: ItemRubricOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record your scores of an item of your queue (a level per criterion, an optional
    comment). A reading is final."""
    from calibrate.services import queue_score, queue_view

    with taking(database) as (engine, actor):
        own = queue_view(engine=engine, actor=actor, handle=handle).rubric
        if rubric is not None and rubric not in (own, own.split("@")[0]):
            raise CalibrateError(f"{handle} is scored on {own}, not {rubric}")
        given = levels_read(
            levels or [],
            scores,
            _visible_rubrics(engine, actor, own),
            hint="calibrate queue next prints it",
        )
        receipt = queue_score(
            engine=engine, actor=actor, handle=handle, scores=given, comment=comment
        )
    if as_json:
        emit_json(receipt)
    else:
        typer.echo(
            f"{receipt['handle']} scored: {receipt['recorded']} criteria recorded "
            f"{_moment(receipt['at'])}; the next one: calibrate queue next"
        )


@queue_app.command("release")
def queue_release_cmd(
    handle: Annotated[str, typer.Argument(metavar="HANDLE", help="The item's handle (S-...).")],
    reason: RequiredReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give an item of your queue back with a reason (a conflict of interest, no time): it goes
    to another assessor, never back to you."""
    from calibrate.services import queue_release

    with taking(database) as (engine, actor):
        done = queue_release(engine=engine, actor=actor, handle=handle, reason=reason)
    if as_json:
        emit_json(done)
    else:
        typer.echo(f"{done['handle']} given back {_moment(done['released_at'])}")


# --- a lead's adjudications


def _apart(pending: dict[str, Any]) -> str:
    return ", ".join(pending["criteria_apart"]) or "-"


@adjudicate_app.command("list")
def adjudicate_list_cmd(
    rubric: RubricOnlyOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The discrepant pairs waiting for you, oldest received first (not those you read): the
    criteria whose readings are more than the allowed gap apart, and whether the pass decisions
    differ."""
    from calibrate.services import adjudications

    with taking(database, who="a lead") as (engine, actor):
        pending = adjudications(engine=engine, actor=actor, rubric=rubric)
    if as_json:
        emit_json({"adjudications": pending})
        return
    if not pending:
        typer.echo("no adjudication waiting for you")
        return
    rows = [["submission", "rubric", "received", "criteria apart", "decisions"]]
    for p in pending:
        rows.append(
            [
                p["submission"],
                p["rubric"],
                _moment(p["received_at"]),
                _apart(p),
                "differ" if p["decisions_differ"] else "agree",
            ]
        )
    _echo([*_table(rows), "", "see both readings: calibrate adjudicate show SUBMISSION"])


def _pair_lines(pending: dict[str, Any], rubric: Rubric) -> list[str]:
    """Both readings side by side per criterion, the decisions, the comments."""
    readings = pending["readings"]
    rows = [
        [
            "criterion",
            *(f"reading {r['reading']} ({r['assessor']})" for r in readings),
            "apart",
        ]
    ]
    for c in rubric.criterion_ids:
        given = [r["scores"][c] for r in readings]
        gap = max(given) - min(given)
        rows.append(
            [
                c,
                *(_labelled(v, rubric) for v in given),
                f"{gap} level{'s' if gap != 1 else ''}"
                + (": more than allowed" if c in pending["criteria_apart"] else ""),
            ]
        )
    rows.append(
        [
            "decision",
            *(_decision(r["passed"]) for r in readings),
            "differ" if pending["decisions_differ"] else "",
        ]
    )
    lines = [*_table(rows), ""]
    for r in readings:
        finished = _moment(r["finished_at"])
        lines.append(f"reading {r['reading']} by {r['assessor']}, {finished}; comment:")
        lines += _wrap(r["comment"]) if r["comment"] else ["  (none)"]
    return lines


@adjudicate_app.command("show")
def adjudicate_show_cmd(
    submission: Annotated[str, typer.Argument(metavar="SUBMISSION", help="The submission key.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A pair waiting for you: both readings side by side per criterion, their pass decisions
    and comments, the artifact, and the rubric with each reading's level marked, then the
    command to resolve it."""
    from calibrate.services import adjudications

    with taking(database, who="a lead") as (engine, actor):
        found = [
            p for p in adjudications(engine=engine, actor=actor) if p["submission"] == submission
        ]
        if not found:
            raise CalibrateError(
                f"no submission {submission!r:.60} waiting for your adjudication "
                "(calibrate adjudicate list)"
            )
        (pending,) = found
        (rubric,) = _visible_rubrics(engine, actor, pending["rubric"])
    if as_json:
        emit_json({**pending, **rubric_detail(rubric)})
        return
    readings = pending["readings"]

    def mark(criterion: str, score: int) -> str:  # [1 2]: both readings chose this level
        chose = (str(r["reading"]) if r["scores"][criterion] == score else " " for r in readings)
        return f"[{' '.join(chose)}] "

    command = f"calibrate adjudicate resolve {pending['submission']} --rubric {rubric.key}"
    _echo(
        [
            f"adjudication of submission {pending['submission']} on {pending['rubric']}, "
            f"received {_moment(pending['received_at'])}",
            "",
            *_pair_lines(pending, rubric),
            "",
            *_artifact_lines(pending["artifact"]),
            "",
            "the rubric, [1] and [2] marking the level each reading chose:",
            *_rubric_lines(rubric, mark),
            "",
            *_submit_lines(
                command, rubric, tail=" --reason TEXT", what="resolve it with your own reading"
            ),
        ]
    )


@adjudicate_app.command("resolve")
def adjudicate_resolve_cmd(
    submission: Annotated[str, typer.Argument(metavar="SUBMISSION", help="The submission key.")],
    reason: RequiredReasonOption,
    levels: LevelsArgument = None,
    scores: ScoresOption = None,
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric",
            metavar="ID[@VERSION]",
            help="The submission's rubric (adjudicate show prints it): needed for --scores or "
            "labels when your issuer's rubrics would read them differently.",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a discrepant pair with your own reading (a level per criterion) and a reason;
    the final scores follow the programme's adjudication rule, the pass decision the rubric's
    pass rule."""
    from calibrate.services import adjudicate

    with taking(database, who="a lead") as (engine, actor):
        given = levels_read(
            levels or [],
            scores,
            _visible_rubrics(engine, actor, rubric),
            hint="calibrate adjudicate show prints it",
        )
        done = adjudicate(
            engine=engine, actor=actor, submission=submission, scores=given, reason=reason
        )
    if as_json:
        emit_json(done)
        return
    final = " ".join(f"{c}={v}" for c, v in done["scores"].items())
    _echo(
        [
            f"submission {done['submission']} resolved by {done['decided_by']} "
            f"{_moment(done['decided_at'])}: {_decision(done['passed'])}",
            f"rule: {done['rule']}",
            f"final scores: {final}",
        ]
    )


# --- submissions, results and suspensions (administrators and the operator)


def _text_file(path: Path, option: str) -> str:
    """The text of a UTF-8 file given to ``option``, refused in one line when unreadable or far
    beyond an artifact's length (the service checks the length exactly)."""
    from calibrate.services.queue import MAX_ARTIFACT_TEXT

    try:
        size = path.stat().st_size
        if size > 4 * MAX_ARTIFACT_TEXT:  # 4 bytes at most per character in UTF-8
            raise CalibrateError(
                f"{option} {path}: {size:,} bytes (an artifact's text is at most "
                f"{MAX_ARTIFACT_TEXT:,} characters)"
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrateError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise CalibrateError(f"{option} {path}: a folder, not a file") from None
    except UnicodeDecodeError:
        raise CalibrateError(f"{option} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise CalibrateError(f"{option} {path}: {exc.strerror or exc}") from None


def _one_text(text: str | None, path: Path | None, name: str) -> str | None:
    if text is not None and path is not None:
        raise CalibrateError(f"give --{name} or --{name}-file, not both")
    return _text_file(path, f"--{name}-file") if path is not None else text


@submissions_app.command("add")
def submissions_add_cmd(
    rubric: TakeRubricOption,
    key: Annotated[
        str, typer.Option("--key", metavar="KEY", help="The submission's key (a new id).")
    ],
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="The artifact's title.")],
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT", help="The artifact's description."),
    ] = None,
    description_file: Annotated[
        Path | None,
        typer.Option("--description-file", metavar="FILE", help="The description, from a file."),
    ] = None,
    excerpt: Annotated[
        str | None, typer.Option("--excerpt", metavar="TEXT", help="The evidence excerpt.")
    ] = None,
    excerpt_file: Annotated[
        Path | None,
        typer.Option("--excerpt-file", metavar="FILE", help="The excerpt, from a file."),
    ] = None,
    earner: Annotated[
        str | None, typer.Option("--earner", metavar="E", help="The earner's key.")
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            "--previous",
            metavar="KEY",
            help="The earner's earlier attempt that this one resubmits.",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enter a submission for live scoring on a rubric version: one reading, or two when drawn
    for double scoring; with --previous, the next attempt of an earlier submission."""
    from calibrate.services import add_submission

    artifact = {"title": title}
    for name, text in (
        ("description", _one_text(description, description_file, "description")),
        ("excerpt", _one_text(excerpt, excerpt_file, "excerpt")),
    ):
        if text is not None:
            artifact[name] = text
    with acting(database) as (engine, actor):
        added = add_submission(
            engine=engine,
            actor=actor,
            rubric=rubric,
            key=key,
            artifact=artifact,
            earner=earner,
            previous=previous,
        )
    if as_json:
        emit_json(added)
    else:
        readings = "two readings" if added["readings"] == 2 else "one reading"
        typer.echo(
            f"submission {added['key']} entered on {added['rubric']}: attempt "
            f"{added['attempt']}, {readings}"
        )


@app.command("results")
def results_cmd(
    rubric: RubricOnlyOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every submission entered for live scoring, oldest received first: its status (waiting,
    in scoring, awaiting adjudication, decided), readings done, and its result (pass decision,
    final scores, the rule, who decided). Administrators and the operator."""
    from calibrate.services import results

    with acting(database) as (engine, actor):
        found = results(engine=engine, actor=actor, rubric=rubric)
        by_key = {r.key: r for r in _visible_rubrics(engine, actor)} if found else {}
    if as_json:
        emit_json({"results": found})
        return
    if not found:
        typer.echo("no submissions entered for live scoring")
        return
    rows = [["submission", "rubric", "attempt", "received", "read", "status", "decision",
             "scores", "by"]]  # fmt: skip
    for r in found:
        result = r["result"]
        rows.append(
            [
                r["submission"],
                r["rubric"],
                str(r["attempt"]),
                _moment(r["received_at"]),
                f"{r['scored']}/{r['readings']}",
                r["status"],
                "-" if result is None else _decision(result["passed"]),
                "-" if result is None else _scores_text(result["scores"], by_key.get(r["rubric"])),
                "-" if result is None else result["decided_by"],
            ]
        )
    notes = [
        f"scores of {k} in order: {', '.join(by_key[k].criterion_ids)}"
        for k in sorted({r["rubric"] for r in found if r["result"] is not None})
        if k in by_key
    ]
    _echo([*_table(rows), *([""] if notes else []), *notes])


@app.command("suspensions")
def suspensions_cmd(
    rubric: RubricOnlyOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspensions from live scoring, in force and lifted, newest first, with their reasons.
    Administrators and the operator."""
    from calibrate.services import suspensions

    with acting(database) as (engine, actor):
        found = suspensions(engine=engine, actor=actor, rubric=rubric)
    if as_json:
        emit_json({"suspensions": found})
        return
    if not found:
        typer.echo("no suspensions")
        return
    rows = [["assessor", "rubric", "kind", "since", "by", "reason", "lifted", "why lifted"]]
    for s in found:
        rows.append(
            [
                s["assessor"],
                s["rubric"],
                s["kind"],
                _moment(s["started_at"]),
                s["started_by"],
                s["reason"],
                "in force" if s["active"] else f"{_moment(s['lifted_at'])} by {s['lifted_by']}",
                s["lift_reason"] or "-",
            ]
        )
    _echo(_table(rows))


AssessorArgument = Annotated[
    str, typer.Argument(metavar="ASSESSOR", help="The assessor's key (e.g. A-amy).")
]


UntilOption = Annotated[
    datetime | None,
    typer.Option(
        "--until",
        formats=["%Y-%m-%d"],
        help="Last day of the flags' window (default: the latest rating's).",
    ),
]
DaysOption = Annotated[
    int | None,
    typer.Option("--days", min=1, help="Days in the flags' window (default: flags.window_days)."),
]


@app.command("suspend-flagged")
def suspend_flagged_cmd(
    rubric: TakeRubricOption,
    until: UntilOption = None,
    days: DaysOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the flags to the workflow: suspend from live scoring on the rubric every assessor
    with a flag of a kind the rubric's rules have suspend (flags.suspend_<kind>), the flags'
    reasons as the reason. Administrators."""
    from calibrate.services import suspend_flagged

    show = None if as_json else progress_printer("flags: ")
    with acting(database) as (engine, actor):
        end = until.date() if until is not None else None
        done = suspend_flagged(
            engine=engine, actor=actor, rubric=rubric, until=end, days=days, progress=show
        )
    if as_json:
        emit_json(done)
        return
    if not done:
        typer.echo("no assessor has a flag of a kind set to suspend (rules flags.suspend_*)")
    for row in done:
        typer.echo(f"{row['assessor']}: {row['action']} ({', '.join(row['kinds'])})")


@app.command("suspend")
def suspend_cmd(
    assessor: AssessorArgument,
    rubric: TakeRubricOption,
    reason: RequiredReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend an assessor from live scoring on a rubric version, with a reason they read in
    their queue; their open items there go back to the queue."""
    from calibrate.services import suspend

    with acting(database) as (engine, actor):
        done = suspend(engine=engine, actor=actor, assessor=assessor, rubric=rubric, reason=reason)
    if as_json:
        emit_json(done)
    else:
        typer.echo(
            f"{done['assessor']} suspended from live scoring on {done['rubric']} "
            f"{_moment(done['started_at'])}: {done['reason']}"
        )


@app.command("reinstate")
def reinstate_cmd(
    assessor: AssessorArgument,
    rubric: TakeRubricOption,
    reason: RequiredReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lift an assessor's suspension on a rubric version, with a reason; validity misses
    before it no longer count."""
    from calibrate.services import reinstate

    with acting(database) as (engine, actor):
        done = reinstate(
            engine=engine, actor=actor, assessor=assessor, rubric=rubric, reason=reason
        )
    if as_json:
        emit_json(done)
    else:
        typer.echo(
            f"{done['assessor']} reinstated on {done['rubric']} "
            f"{_moment(done['lifted_at'])}: {done['lift_reason']}"
        )


# --- end of live scoring queue, adjudication, submissions, results, suspensions ----------------


def main() -> None:
    """Entry point: run the app, turning user mistakes into a clear message and exit status 1.

    Usage errors (unknown option, missing argument) are reported by Typer with exit status 2.
    """
    try:
        app()
    except CalibrateError as exc:
        if isinstance(exc, ValidationError):
            report_problems(exc)
        else:
            typer.echo(f"error: {exc}", err=True)
        if invoked_command(sys.argv[1:]) in WRITES:
            typer.echo("nothing was written", err=True)
        sys.exit(1)


def report_problems(exc: ValidationError) -> None:
    """Every problem of a refused input on stderr, or above :data:`PRINTED` of them the first
    :data:`HEAD` and a file holding them all."""
    problems = exc.problems
    typer.echo(f"error: {exc.headline}", err=True)
    if len(problems) <= PRINTED:
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        return
    import tempfile

    name = Path(problems[0].source).name or "input"
    with tempfile.NamedTemporaryFile(
        "w", prefix=f"calibrate-{name}-", suffix=".problems.txt", delete=False, encoding="utf-8"
    ) as fh:
        fh.writelines(f"{problem}\n" for problem in problems)
    for problem in problems[:HEAD]:
        typer.echo(f"  {problem}", err=True)
    typer.echo(
        f"  ... and {len(problems) - HEAD:,} more: all {len(problems):,} are listed in {fh.name}",
        err=True,
    )


def invoked_command(args: list[str]) -> str:
    """The command path ``args`` name (``"import ratings"``, ``"agreement"``), walking the
    command groups; ``""`` when they name none."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            continue
        commands = getattr(command, "commands", None)  # a group's subcommands by name
        if not isinstance(commands, dict) or arg not in commands:
            break
        path.append(arg)
        command = commands[arg]
    return " ".join(path)


# --- monitoring --------------------------------------------------------------------------------


@app.command("attempts")
def attempts_cmd(
    rubric: TakeRubricOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Consistency across earners' attempts on a stored rubric version: pass rate by attempt,
    score change between attempts, same versus new assessor on a resubmission, leniency toward
    later attempts, accuracy across qualification rounds; each figure with its 95% interval and
    a verdict that follows it. Lead assessors, administrators, board reviewers (pseudonyms)."""
    from calibrate.services import attempt_consistency

    with acting(database) as (engine, actor):
        report = attempt_consistency(engine=engine, actor=actor, rubric=rubric)
    if as_json:
        emit_json(report.to_dict())
        return
    lines = [
        f"{report.rubric}: {report.n_submissions:,} submissions of {report.n_earners:,} earners "
        f"({report.n_resubmissions:,} resubmissions), {report.n_ratings:,} live ratings; "
        f"{report.n_from_results:,} decided by the workflow's final results",
        "",
        "Pass rate by attempt",
        *(f"  {row.sentence}" for row in report.pass_rates),
        "Earned by attempt",
        *(f"  {row.sentence}" for row in report.earned),
        "Score change from one attempt to the next",
        *(f"  {row.sentence}" for row in report.score_changes),
        "Same or new assessor on a resubmission",
        f"  {report.continuity.sentence}",
        "Leniency toward later attempts",
        f"  {report.leniency.sentence}",
        *(f"  {a.sentence}" for a in report.leniency.assessors),
    ]
    if report.calibration is not None:
        lines += [
            "Assessors across their qualification rounds",
            f"  {report.calibration.sentence}",
            *(f"  {row.sentence}" for row in report.calibration.rounds),
            *(f"  {row.sentence}" for row in report.calibration.qualification),
        ]
    _echo(lines)


@app.command("drift")
def drift_cmd(
    rubric: TakeRubricOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drift of the assessors of a stored rubric version over time: a CUSUM control chart per
    assessor on their validity-anchor readings (rules drift.k, drift.arl0: the in-control
    average run length), alarms with their time, direction and likely start; severity per
    window of drift.window_days days and its change; the whole pool's drift between windows on
    anchors read in both. Lead assessors, administrators, board reviewers (pseudonyms)."""
    from calibrate.services import drift_report

    with acting(database) as (engine, actor):
        report = drift_report(
            engine=engine, actor=actor, rubric=rubric, progress=progress_printer("severity: ")
        )
    if as_json:
        emit_json(report.to_dict())
        return
    charted = len(report.charts)
    lines = [
        f"{report.rubric}: {charted} assessors charted on {report.n_readings:,} validity-anchor "
        f"readings; CUSUM k = {report.k:g}, h = {report.h:.2f}: an assessor who has not "
        f"drifted raises a false alarm once in {report.arl0:.0f} readings on average, a shift "
        f"of {2 * report.k:g} SD is caught after {report.arl1:.1f}; "
        f"{report.expected_false_alarms:.2f} false alarms expected over these readings",
        "",
        f"Alarms ({len(report.alarms)})",
        *(f"  {a.sentence}" for a in report.alarms),
        "Assessors without alarm",
        *(
            f"  {c.assessor}: {c.status} ({c.n_readings} readings)"
            for c in report.charts
            if c.alarm is None
        ),
        f"Pool drift between windows of {report.window_days} days",
        *(f"  {p.sentence}" for p in report.pool),
        "Severity changes between windows whose interval excludes 0 "
        f"({report.expected_false_shifts:.1f} expected by chance)",
        *(
            f"  {s.assessor}: window {s.window_from + 1} to {s.window_to + 1}, "
            f"{s.change:+.2f} logits [{s.interval.low:+.2f}, {s.interval.high:+.2f}]: {s.verdict}"
            for s in report.severity_shifts
            if s.verdict in ("more lenient", "more severe")
        ),
    ]
    lines += [f"note: {n}" for n in report.notes]
    _echo(lines)


@app.command("audit-rubric")
def audit_rubric_cmd(
    rubric: TakeRubricOption,
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", min=1, metavar="N", help="Resamples behind each interval."),
    ] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", help="Bootstrap seed (same seed, same intervals).")
    ] = 2026,
    all_findings: Annotated[
        bool, typer.Option("--all", help="Every finding, not only the concerns.")
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Audit a stored rubric version: reliability per criterion, level usage, threshold order,
    criterion difficulty, redundancy and halo, pass-decision consistency, the criteria behind
    discrepant pairs, G and Phi; each finding with its interval, a verdict that follows it and
    a recommendation. Lead assessors, administrators, board reviewers."""
    from calibrate.services import audit_rubric

    with acting(database) as (engine, actor):
        audit = audit_rubric(engine=engine, actor=actor, rubric=rubric, n_boot=bootstrap, seed=seed)
    if as_json:
        emit_json(audit.to_dict())
        return
    shown = audit.findings if all_findings else audit.concerns()
    lines = [
        f"{audit.rubric}: {len(audit.findings)} findings, {len(audit.concerns())} of concern "
        f"({audit.level:.0%} intervals, {audit.n_boot:,} resamples, seed {audit.seed})",
        "",
    ]
    for f in shown:
        where = ", ".join(f.criteria) if f.criteria else "rubric"
        lines.append(f"{'!' if f.concern else '-'} {f.kind} ({where}): {f.verdict}")
        lines.append(f"    {f.sentence}")
        if f.recommendation:
            lines.append(f"    what to do: {f.recommendation}")
    if not shown:
        lines.append("no finding of concern (--all lists every finding)")
    lines += [f"note: {n}" for n in audit.notes]
    _echo(lines)


@app.command("flags")
def flags_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[RATINGS.csv]",
            help="Live ratings (and validity anchors, context 'validity'). Omit to use the store "
            "(--rubric).",
        ),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            metavar="ANCHOR_SET",
            help="With RATINGS.csv: anchor-set YAML file or folder (the experts' scores of the "
            "validity anchors; names the rubric).",
        ),
    ] = None,
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric",
            metavar="ID[@VERSION]",
            help="The stored rubric version (with RATINGS.csv and no anchors: a rubric file's).",
        ),
    ] = None,
    rubric_dir: Annotated[
        Path, typer.Option("--rubric-dir", help="Rubric files (with RATINGS.csv).")
    ] = Path("rubrics"),
    until: UntilOption = None,
    days: DaysOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Flags on assessors from their live work, each with its figure, interval, threshold,
    evidence and reason: severity or leniency (rater model; validity anchors against the
    experts) and the other tests of calibrate.flags, on assessors with enough ratings
    (rule flags.min_ratings), the false discovery rate of each test held at flags.fdr. From the
    store (lead assessors, administrators, board reviewers) or from RATINGS.csv."""
    from calibrate.services import assessor_flags, flags_from_files

    show = None if as_json else progress_printer("flags: ")
    end = until.date() if until is not None else None
    if path is not None:
        report = flags_from_files(
            path, rubric_dir=rubric_dir, anchors=anchors, rubric=rubric, until=end, days=days,
            progress=show,
        )  # fmt: skip
    else:
        if rubric is None:
            raise CalibrateError("give RATINGS.csv (with --anchors or --rubric), or --rubric ID "
                                 "for the ratings in the store")  # fmt: skip
        if anchors is not None:
            raise CalibrateError("--anchors goes with RATINGS.csv; the store holds its anchor sets")
        with acting(database) as (engine, actor):
            report = assessor_flags(
                engine=engine, actor=actor, rubric=rubric, until=end, days=days, progress=show
            )
    if as_json:
        emit_json(report.to_dict())
        return
    _echo(flag_lines(report))


def flag_lines(report: FlagReport) -> list[str]:
    """The flag report as text: the window, each test's count, each flag's reason, the
    assessors not tested."""
    flags = report.flags
    lines = [
        f"{report.window}: {len(report.assessors)} assessors, {len(flags)} flags (false discovery "
        f"rate {report.fdr:.0%} per test: about {report.expected_false:.1f} of these flags may be "
        "false)",
    ]
    for r in report.results:
        lines.append(
            f"  {r.test.statistic}: {r.tested} tested, {len(r.flags)} flagged "
            f"(threshold {r.threshold:.3g} {r.test.unit}, rule {r.test.rule})"
        )
    lines += [f"  - {f.reason}" for f in flags]
    lines += [f"  note: {n}" for n in report.notes]
    thin = sorted({w for r in report.results for w in r.not_tested})
    if thin:
        lines.append(f"not tested on some statistic ({len(thin)}): " + ", ".join(thin[:20])
                     + (" ..." if len(thin) > 20 else "") + " (see --json for why)")  # fmt: skip
    return lines
