"""Plain-text tables of the analysis results, for the terminal (``calibrate ... `` without --json).

Pure layout over the library's results: the numbers come from the use-case functions.
"""

from __future__ import annotations

from typing import Any

from calibrate.accuracy_report import AccuracyReport, AccuracyRow
from calibrate.agreement_report import AgreementReport
from calibrate.rubric import Rubric
from calibrate.stats.accuracy import DecisionAgreement
from calibrate.stats.gtheory import GStudy

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
        head = [
            "id",
            measure,
            "se",
            "se_joint",
            "infit",
            "outfit",
            "infit_z",
            "outfit_z",
            "fair",
            "obs",
            "n",
        ]
        rows = [head]
        for e in sorted(
            payload[key], key=lambda e: -(e[measure] if e[measure] == e[measure] else 0)
        ):
            rows.append(
                [
                    str(e["id"]) + ("" if e["status"] == "estimated" else f" ({e['status']})"),
                    num(e[measure]),
                    num(e["se"]),
                    num(e["se_joint"]),
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
    ]
    several = len({row.n_criteria for row in study.d_study}) > 1
    if not several:
        lines.append(f"D study ({study.d_study[0].n_criteria:g} criteria)")
    rows = [
        [*(["criteria"] if several else []), "assessors", "rel. error", "abs. error", "G", "Phi"]
    ]
    for row in study.d_study:
        rows.append(
            [
                *([f"{row.n_criteria:g}"] if several else []),
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
        f"assessors per submission to reach {study.target:g} ({obs.n_criteria:g} criteria):",
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


def decisions_text(d: DecisionAgreement, *, rubric: Rubric | None = None) -> str:
    """Pass-decision agreement of double-scored submissions, as lines of text."""
    rule = f" ({rubric.key} pass rule)" if rubric is not None else ""
    kappa_low, kappa_high = d.kappa.confidence_interval()
    ac1_low, ac1_high = d.ac1.confidence_interval()
    return "\n".join(
        [
            f"pass decisions, first against second reading{rule}: {d.n:,} submissions",
            f"  same decision      {100 * d.percent:.1f}%  ({d.n_discrepant:,} discrepant: "
            "candidates for adjudication)",
            f"  Cohen kappa        {_fmt(d.kappa.kappa)} [{_fmt(kappa_low)}, {_fmt(kappa_high)}]",
            f"  Gwet AC1           {_fmt(d.ac1.coefficient)} [{_fmt(ac1_low)}, {_fmt(ac1_high)}]",
        ]
    )


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"
