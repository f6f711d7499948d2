"""The ``calibrate`` command line: a thin shell over the library.

Every command calls one library function and prints its result, as text or with ``--json`` as one
JSON object on stdout. User mistakes (:class:`calibrate.errors.CalibrateError`) become a clear
message on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from sqlalchemy import Engine

from calibrate.accuracy_report import (
    AccuracyReport,
    AccuracyRow,
    accuracy_report,
    load_anchor_definitions,
    stored_accuracy_report,
)
from calibrate.agreement_report import AgreementReport, agreement_report
from calibrate.anchors import load_anchor_sets
from calibrate.errors import CalibrateError, ValidationError
from calibrate.ratings import Ratings, read_ratings_csv
from calibrate.rubric import load_rubrics
from calibrate.stats.gtheory import Design, GStudy, gstudy
from calibrate.stats.rasch import BiasTerm, RaschResult, fit_mfrm
from calibrate.store import (
    ImportReport,
    correct_rating,
    counts,
    import_definition_dirs,
    import_ratings_file,
    open_store,
    rating_history,
)

app = typer.Typer(
    name="calibrate",
    help="Trustworthy scoring of educator micro-credentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
        "needed when the file mixes contexts.",
    ),
]
RubricFilterOption = Annotated[
    str | None,
    typer.Option(
        "--rubric", help="Only ratings of this rubric; needed when the file mixes rubrics."
    ),
]

import_app = typer.Typer(help="Import rubrics, anchor sets and ratings (all or nothing).")
app.add_typer(import_app, name="import")


@contextmanager
def store_engine(database: str | None) -> Iterator[Engine]:
    """The migrated store for one command, its connections closed afterwards."""
    engine = open_store(database)
    try:
        yield engine
    finally:
        engine.dispose()


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
        report = import_definition_dirs(rubrics, anchors, engine=engine, imported_by=by)
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
        report = import_ratings_file(
            path,
            engine=engine,
            rubric=rubric,
            wide=wide,
            criterion=criterion,
            imported_by=by,
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
        new_id = correct_rating(rating_id, score, engine=engine, recorded_by=by, reason=reason)
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
        chain = rating_history(rating_id, engine=engine)
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
        rows = counts(engine=engine)
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
    found = load_rubrics(rubrics)
    sets = load_anchor_sets(anchors, {(r.id, r.version): r for r in found}) if anchors else []
    typer.echo(f"ok: {len(found)} rubric(s), {len(sets)} anchor set(s)")


# --- agreement among assessors ------------------------------------------------------------------


@app.command("agreement")
def agreement_cmd(
    path: Annotated[Path, typer.Argument(help="Ratings CSV (long format unless --wide).")],
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
    as_json: JsonOption = False,
) -> None:
    """Agreement among assessors, per criterion and pooled: percent agreement, kappas, alpha,
    AC1/AC2, ICC."""
    ratings = read_ratings_csv(path, wide=wide, criterion=criterion if wide else None).select(
        context=context, rubric=rubric
    )
    report = agreement_report(
        ratings,
        criterion=None if wide else criterion,
        n_boot=bootstrap,
        seed=seed,
        progress=progress_printer("bootstrap ") if bootstrap else None,
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(agreement_table(report, source=path.name))


_AGREEMENT_ROWS = (
    ("percent_exact", "percent exact"),
    ("percent_adjacent", "percent adjacent"),
    ("krippendorff_alpha.nominal", "alpha nominal"),
    ("krippendorff_alpha.ordinal", "alpha ordinal"),
    ("krippendorff_alpha.interval", "alpha interval"),
    ("krippendorff_alpha.ratio", "alpha ratio"),
    ("gwet_ac1", "Gwet AC1"),
    ("gwet_ac2.linear", "Gwet AC2 linear"),
    ("gwet_ac2.quadratic", "Gwet AC2 quadratic"),
    ("fleiss_kappa", "Fleiss kappa"),
    ("cohen_kappa.unweighted", "Cohen kappa"),
    ("cohen_kappa.linear", "Cohen kappa linear"),
    ("cohen_kappa.quadratic", "Cohen kappa quadratic"),
    ("standardized_mean_difference", "std. mean difference"),
    *((f"icc.{form}", form) for form in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")),
)


def agreement_table(report: AgreementReport, *, source: str) -> str:
    """The text form of ``calibrate agreement``: one row per statistic, one column per summary
    (pooled first), ``value [low, high]`` with a bootstrap; ``-`` where a statistic is undefined.
    """
    summaries = [("pooled" if report.criteria else "all", report.pooled.to_dict())]
    summaries += [(name, s.to_dict()) for name, s in report.criteria.items()]

    def lookup(d: dict[str, Any], key: str) -> Any:
        for part in key.split("."):
            if not isinstance(d, dict) or part not in d:
                return None
            d = d[part]
        return d

    def cell(d: dict[str, Any], key: str) -> str:
        v = lookup(d, key)
        if v is None or v != v:
            return "-"
        ci = lookup(d, f"ci.{key}")
        if ci is None:
            return f"{v:.3f}"
        low, high = ("-" if b is None or b != b else f"{b:.3f}" for b in ci)
        return f"{v:.3f} [{low}, {high}]"

    p = report.pooled
    head = f"{source}: {p.n_ratings:,} ratings, {p.n_units:,} units, {p.n_raters:,} assessors"
    rows = [["", *(name for name, _ in summaries)]]
    rows.append(["units", *(f"{d['n_units']:,}" for _, d in summaries)])
    rows.append(["ratings", *(f"{d['n_ratings']:,}" for _, d in summaries)])
    for key, label in _AGREEMENT_ROWS:
        if any(lookup(d, key) is not None for _, d in summaries):
            rows.append([label, *(cell(d, key) for _, d in summaries)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    notes = []
    if report.pooled.ci is not None:
        ci = next(iter(report.pooled.ci.values()))
        notes.append(
            f"[low, high]: {ci.confidence:.0%} percentile bootstrap over units, "
            f"{ci.n_boot:,} resamples"
        )
    return "\n".join([head, "", *(line.rstrip() for line in lines), *notes])


# --- accuracy against anchors ------------------------------------------------------------------


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
    if path is not None:
        if anchors is None:
            raise CalibrateError("RATINGS.csv needs --anchors ANCHOR_SET (the expert scores)")
        if rubric is not None:
            raise CalibrateError("--rubric is for the store; with RATINGS.csv the sets name it")
        rubric_version, sets = load_anchor_definitions(anchors, rubric_dir)
        report = accuracy_report(read_ratings_csv(path), sets, rubric_version)
    else:
        if rubric is None:
            raise CalibrateError(
                "give RATINGS.csv --anchors ANCHOR_SET, or --rubric ID for the ratings in the store"
            )
        if anchors is not None:
            raise CalibrateError("--anchors goes with RATINGS.csv; the store holds its anchor sets")
        with store_engine(database) as engine:
            report = stored_accuracy_report(engine=engine, rubric=rubric)
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(accuracy_text(report, source=path.name if path is not None else "store"))


def accuracy_text(report: AccuracyReport, *, source: str) -> str:
    """The text form of ``calibrate accuracy``: a table per assessor, per criterion and overall
    (assessor x criterion cells are in ``--json``)."""

    def num(v: float | int | None, fmt: str = ".3f") -> str:
        return "-" if v is None or v != v else format(v, fmt)

    head = [
        "n",
        "anchors",
        "exact",
        "adjacent",
        "mean dev",
        f"{report.confidence:.0%} CI",
        "MAE",
        "QWK",
        "decisions",
        "accuracy",
        "false pass",
        "false fail",
    ]

    def line(name: str, r: AccuracyRow) -> list[str]:
        low, high = r.mean_deviation_ci
        return [
            name,
            str(r.n),
            str(r.n_anchors),
            num(r.exact),
            num(r.adjacent),
            num(r.mean_deviation, "+.3f"),
            f"[{num(low, '+.3f')}, {num(high, '+.3f')}]",
            num(r.mae),
            num(r.qwk),
            num(r.n_decisions, "d"),
            num(r.decision_accuracy),
            num(r.false_pass, "d"),
            num(r.false_fail, "d"),
        ]

    o = report.overall
    lines = [
        f"{source}: accuracy against the anchors of {report.rubric} "
        f"({', '.join(report.anchor_sets)}): {o.n:,} ratings of {o.n_anchors} anchors by "
        f"{len(report.assessors)} assessors",
        "",
    ]
    rows = [["assessor", *head], *(line(k, r) for k, r in report.assessors.items())]
    lines += [*_columns(rows, left=1), ""]
    rows = [["criterion", *head], *(line(k, r) for k, r in report.criteria.items())]
    lines += [*_columns(rows, left=1), ""]
    lines += _columns([["", *head], line("overall", o)], left=1)
    lines += [
        "",
        "mean dev = assessor score - expert score: negative = harsher than the experts; CI: "
        "Student's t, standard error clustered by anchor",
        "decisions: readings scoring every criterion, pass rule applied, against the experts' "
        "decision; false pass = passed where the experts do not",
        "per assessor x criterion: --json (assessor_criteria)",
    ]
    return "\n".join(x.rstrip() for x in lines)


# --- simulate: a demo programme with known truth ----------------------------------------------

_REPOSITORY = Path(__file__).resolve().parents[2]


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
    ] = _REPOSITORY / "rubrics",
    anchors: Annotated[
        Path, typer.Option("--anchors", help="Folder of anchor sets (<rubric-id>/*.yaml).")
    ] = _REPOSITORY / "anchor_sets",
    as_json: JsonOption = False,
) -> None:
    """Simulate a programme (assessors with planted effects, earners, attempts) and write
    DIR/ratings.csv (import format) and DIR/truth.json."""
    from calibrate.simulate import simulate_files

    if size is not None and ratings is not None:
        raise CalibrateError("give --size or --ratings, not both")
    programme = simulate_files(
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
    path: Annotated[Path, typer.Argument(help="Ratings CSV (long format).")],
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
    as_json: JsonOption = False,
) -> None:
    """Rater effects by the many-facet Rasch model (FACETS conventions): assessor severity,
    criterion difficulty, submission measures, fit, separation, thresholds, bias terms."""
    ratings = read_ratings_csv(path).select(context=context, rubric=rubric)
    codes, labels = None, ()
    if facet is not None:
        if facet not in ratings.columns:
            have = ", ".join(sorted(ratings.columns)) or "none"
            raise CalibrateError(f"--facet {facet!r}: no such column (other columns: {have})")
        names, inverse = np.unique(ratings.columns[facet].astype(str), return_inverse=True)
        codes, labels = inverse.astype(np.int64), tuple(names.tolist())

    redraw = sys.stderr.isatty()

    def show(iteration: int, change: float) -> None:
        text = f"raters: iteration {iteration}, largest change {change:.5f}"
        typer.echo(f"\r{text}\x1b[K" if redraw else text, err=True, nl=not redraw)

    result = fit_mfrm(
        ratings.unit,
        ratings.rater,
        ratings.criterion,
        ratings.value,
        model=model,  # type: ignore[arg-type]  # checked by fit_mfrm
        facet=codes,
        facet_name=facet or "facet",
        on_disconnected="flag",
        progress=show,
    )
    typer.echo("", err=True)
    payload = raters_payload(result, ratings, labels)
    if not result.connected:
        typer.echo(
            f"warning: {len(result.subsets)} disconnected subsets of assessors; severities "
            "compare only within a subset (see subsets)",
            err=True,
        )
    if result.disordered:
        typer.echo(
            "warning: disordered Rasch-Andrich thresholds: some score levels are never the "
            "most probable; review the rubric's level descriptors (see thresholds)",
            err=True,
        )
    if not result.converged:
        typer.echo(
            f"warning: no convergence in {result.iterations} iterations "
            f"(largest change {result.max_change:.4f} logits)",
            err=True,
        )
    if as_json:
        emit_json(payload)
    else:
        typer.echo(raters_table(payload, source=path.name))


def raters_payload(
    result: RaschResult, ratings: Ratings, facet_labels: tuple[str, ...]
) -> dict[str, Any]:
    """The ``--json`` object of ``calibrate raters`` (labels in place of codes)."""
    reports = {
        "submissions": (result.submissions, ratings.units, "measure"),
        "assessors": (result.assessors, ratings.raters, "severity"),
        "criteria": (result.criteria, ratings.criteria, "measure"),
    }
    if result.facet is not None:
        reports["facet"] = (result.facet, facet_labels, "measure")
    out: dict[str, Any] = {
        "model": result.model,
        "n_ratings": result.n,
        "n_estimation": result.n_estimation,
        "converged": result.converged,
        "iterations": result.iterations,
    }
    for key, (rep, names, measure) in reports.items():
        out[key] = [
            {
                "id": names[e.code],
                measure: e.measure,
                "se": e.se,
                "infit": e.infit,
                "outfit": e.outfit,
                "infit_z": e.infit_z,
                "outfit_z": e.outfit_z,
                "fair_average": e.fair_average,
                "observed_average": e.observed_average,
                "n": e.n,
                "status": e.status,
                "subset": e.subset,
            }
            for e in rep.elements
        ]
    if result.facet is not None:
        out["facet_name"] = result.facet.name
    summary = ("separation", "strata", "reliability", "rmse", "true_sd", "chi_square", "df", "p")
    for stat in summary:
        out[stat] = {key: getattr(rep, stat) for key, (rep, _, _) in reports.items()}
    crit = ratings.criteria
    out["thresholds"] = [
        {**t.to_dict(), "criterion": None if t.criterion is None else crit[t.criterion]}
        for t in result.thresholds
    ]
    out["categories"] = [c.to_dict() for c in result.categories]
    out["disordered"] = result.disordered
    out["bias"] = [
        {"assessor": ratings.raters[b.assessor], "criterion": crit[b.other], **_cell(b)}
        for b in result.bias_criterion
    ]
    out["bias_facet"] = [
        {"assessor": ratings.raters[b.assessor], "element": facet_labels[b.other], **_cell(b)}
        for b in result.bias_facet
    ]
    out["subsets"] = [
        {**s.to_dict(), "assessors": [ratings.raters[j] for j in s.assessors]}
        for s in result.subsets
    ]
    out["connected"] = result.connected
    return out


def _cell(b: BiasTerm) -> dict[str, Any]:
    return {k: v for k, v in b.to_dict().items() if k not in ("assessor", "other")}


def raters_table(payload: dict[str, Any], *, source: str) -> str:
    """The text form of ``calibrate raters``: compact FACETS-style tables."""

    def num(v: Any, fmt: str = ".2f") -> str:
        return "-" if v is None or v != v else format(v, fmt)

    def table(rows: list[list[str]]) -> list[str]:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
            for r in rows
        ]

    def summary(key: str) -> str:
        p = payload["p"][key]
        p_text = "-" if p is None or p != p else ("< .001" if p < 0.001 else f"{p:.3f}")
        return (
            f"  separation {num(payload['separation'][key])}, "
            f"strata {num(payload['strata'][key])}, "
            f"reliability {num(payload['reliability'][key])}; fixed chi-square "
            f"{num(payload['chi_square'][key], '.1f')} (df {payload['df'][key]}, p {p_text})"
        )

    def elements(key: str, measure: str, title: str) -> list[str]:
        head = ["id", measure, "se", "infit", "outfit", "infit_z", "outfit_z", "fair", "obs", "n"]
        rows = [head]
        for e in sorted(
            payload[key], key=lambda e: -(e[measure] if e[measure] == e[measure] else 0)
        ):
            rows.append(
                [
                    str(e["id"]) + ("" if e["status"] == "estimated" else f" ({e['status']})"),
                    num(e[measure]),
                    num(e["se"]),
                    num(e["infit"]),
                    num(e["outfit"]),
                    num(e["infit_z"], ".1f"),
                    num(e["outfit_z"], ".1f"),
                    num(e["fair_average"]),
                    num(e["observed_average"]),
                    str(e["n"]),
                ]
            )
        return [title, *table(rows), summary(key), ""]

    n_sub = len(payload["submissions"])
    extreme = sum(e["status"] != "estimated" for e in payload["submissions"])
    lines = [
        f"{source}: {payload['n_ratings']:,} ratings ({payload['n_estimation']:,} in estimation), "
        f"{n_sub:,} submissions, {len(payload['assessors'])} assessors, "
        f"{len(payload['criteria'])} criteria; {payload['model']} model, "
        + (
            f"converged in {payload['iterations']} iterations"
            if payload["converged"]
            else f"NOT converged after {payload['iterations']} iterations"
        ),
        "",
    ]
    lines += elements("assessors", "severity", "assessors (severity in logits, + = harsher)")
    lines += elements("criteria", "measure", "criteria (difficulty in logits)")
    if "facet" in payload:
        lines += elements(
            "facet", "measure", f"{payload['facet_name']} (logits, + = lower ratings)"
        )
    lines += [
        f"submissions: {n_sub:,} ({extreme:,} extreme, estimated from score -/+ 0.3)",
        summary("submissions"),
        "",
    ]
    for t in payload["thresholds"]:
        where = "rating scale" if t["criterion"] is None else f"criterion {t['criterion']}"
        cats = t["categories"]
        steps = ", ".join(
            f"{cats[k]:g}->{cats[k + 1]:g} {num(tau)} ({num(se)})"
            for k, (tau, se) in enumerate(zip(t["tau"], t["se"], strict=True))
        )
        flag = "  DISORDERED" if t["disordered"] else ""
        lines.append(f"thresholds, {where}: {steps}{flag}")
    rows = [["category", "count", "percent", "avg measure"]]
    rows += [
        [f"{c['category']:g}", str(c["count"]), num(c["percent"], ".1f"), num(c["average_measure"])]
        for c in payload["categories"]
    ]
    lines += ["", *table(rows), ""]
    flagged = sorted(
        (b for b in payload["bias"] if b["t"] == b["t"] and abs(b["t"]) >= 2),
        key=lambda b: -abs(b["t"]),
    )
    lines.append(
        f"assessor x criterion bias, |t| >= 2: {len(flagged)} of {len(payload['bias'])} cells"
        + (" (largest 10)" if len(flagged) > 10 else "")
    )
    if flagged:
        rows = [["assessor", "criterion", "n", "obs", "exp", "bias", "se", "t", "p"]]
        rows += [
            [
                str(b["assessor"]),
                str(b["criterion"]),
                str(b["n"]),
                num(b["observed_average"]),
                num(b["expected_average"]),
                num(b["bias"]),
                num(b["se"]),
                num(b["t"], ".1f"),
                num(b["p"], ".3f"),
            ]
            for b in flagged[:10]
        ]
        lines += table(rows)
    subsets = payload["subsets"]
    lines += [
        "",
        "design: connected (one subset)"
        if payload["connected"]
        else f"design: {len(subsets)} disconnected subsets; "
        + "; ".join(f"{len(s['assessors'])} assessors" for s in subsets),
    ]
    return "\n".join(lines)


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
    from calibrate.demo import build_demo

    with store_engine(database) as engine:
        report = build_demo(
            engine=engine, out=out, size=size, seed=seed, progress=progress_printer()
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
    if serve:
        serve_cmd(database=database, port=port, headless=False)


# --- generalizability theory: G and D studies --------------------------------------------------


@app.command("gstudy")
def gstudy_cmd(
    path: Annotated[
        Path, typer.Argument(help="Ratings CSV (long: submission, assessor, criterion, score).")
    ],
    design: Annotated[
        Design | None,
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
    context: ContextOption = None,
    rubric: RubricFilterOption = None,
    as_json: JsonOption = False,
) -> None:
    """G study and D study: variance components, G and Phi, and how many assessors per
    submission reach the target."""
    ratings = read_ratings_csv(path).select(context=context, rubric=rubric)
    study = gstudy(
        ratings.unit,
        ratings.rater,
        ratings.value,
        ratings.criterion,
        design=design,
        target=target,
        max_assessors=max_assessors,
    )
    if as_json:
        emit_json(study.to_dict())
    else:
        typer.echo(gstudy_text(study, source=path.name, detected=design is None))


def gstudy_text(study: GStudy, *, source: str, detected: bool) -> str:
    """The text form of ``calibrate gstudy``: sizes, components, coefficients, D study."""
    vc, obs = study.components, study.observed
    how = " (detected)" if detected else ""
    lines = [
        f"{source}: {vc.n_ratings:,} ratings, {vc.n_submissions:,} submissions, "
        f"{vc.n_assessors:,} assessors, {vc.n_criteria:,} criteria",
        f"design: {vc.design}{how}, {vc.notation}; "
        f"{'balanced' if vc.balanced else 'unbalanced'}, "
        f"{vc.assessors_per_submission:.2f} assessors per submission (harmonic mean)",
        f"estimator: {vc.estimator}; negative estimates set to 0 (raw kept)",
        "",
    ]
    total = sum(c.estimate for c in vc.components)
    rows = [["effect", "source", "raw", "estimate", "share"]]
    for c in vc.components:
        share = f"{100 * c.estimate / total:.1f}%" if total > 0 else "-"
        rows.append([c.effect, c.source, f"{c.raw:.4f}", f"{c.estimate:.4f}", share])
    lines += _columns(rows, left=2)

    def number(x: float) -> str:
        return "-" if x != x else f"{x:.3f}"

    lines += [
        "",
        f"observed design ({obs.n_assessors:.2f} assessors, {obs.n_criteria:g} criteria): "
        f"G (relative, E rho^2) {number(obs.g)}, Phi (absolute) {number(obs.phi)}",
        "",
        f"D study ({obs.n_criteria:g} criteria)",
    ]
    rows = [["assessors", "rel. error", "abs. error", "G", "Phi"]]
    for row in study.d_study:
        rows.append(
            [
                f"{row.n_assessors:g}",
                f"{row.relative_error:.4f}",
                f"{row.absolute_error:.4f}",
                number(row.g),
                number(row.phi),
            ]
        )
    lines += _columns(rows, left=0)

    def needed(n: int | None, limit: float) -> str:
        if n is None:
            return f"not reachable (at most {number(limit)} with {obs.n_criteria:g} criteria)"
        return str(n)

    lines += [
        "",
        f"assessors per submission to reach {study.target:g}:",
        f"  on Phi (pass/not-yet decisions against the standard): "
        f"{needed(study.assessors_needed_phi, study.limit.phi)}",
        f"  on G (ranking submissions): {needed(study.assessors_needed_g, study.limit.g)}",
    ]
    return "\n".join(line.rstrip() for line in lines)


def _columns(rows: list[list[str]], *, left: int) -> list[str]:
    """Align a table: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]


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
