"""Plain-text tables of the analysis results, for the terminal (``calibrate ... `` without --json).

Pure layout over the services' results: the numbers come from the use cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calibrate.analyses.accuracy import AccuracyReport, AccuracyRow
    from calibrate.analyses.agreement import AgreementReport
    from calibrate.rubric import Rubric
    from calibrate.stats._interval import ConfidenceInterval
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


def statistic(summary: dict[str, Any], key: str) -> Any:
    """A value of :meth:`AgreementSummary.to_dict` by dotted key (``"krippendorff_alpha.ordinal"``,
    ``"ci.gwet_ac1"``); None where the summary has no such statistic."""
    value: Any = summary
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def agreement_table(report: AgreementReport, *, source: str) -> str:
    """The text form of ``calibrate agreement``: one row per statistic, one column per summary
    (pooled first), ``value [low, high]`` with a bootstrap; ``-`` where a statistic is undefined.
    """
    summaries = [("pooled" if report.criteria else "all", report.pooled.to_dict())]
    summaries += [(name, s.to_dict()) for name, s in report.criteria.items()]

    def cell(d: dict[str, Any], key: str) -> str:
        v = statistic(d, key)
        if v is None or v != v:
            return "-"
        ci = statistic(d, f"ci.{key}")
        if ci is None:
            return _num(v)
        return f"{_num(v)} [{_num(ci[0])}, {_num(ci[1])}]"

    p = report.pooled
    head = f"{source}: {p.n_ratings:,} ratings, {p.n_units:,} units, {p.n_raters:,} assessors"
    rows = [["", *(name for name, _ in summaries)]]
    rows.append(["units", *(f"{d['n_units']:,}" for _, d in summaries)])
    rows.append(["ratings", *(f"{d['n_ratings']:,}" for _, d in summaries)])
    for key, label in _AGREEMENT_ROWS:
        if any(statistic(d, key) is not None for _, d in summaries):
            rows.append([label, *(cell(d, key) for _, d in summaries)])
    notes = []
    if report.pooled.ci is not None:
        ci = next(iter(report.pooled.ci.values()))
        notes.append(
            f"[low, high]: {ci.level:.0%} percentile bootstrap over units, {ci.n_boot:,} resamples"
        )
    return "\n".join([head, "", *_columns(rows), *notes])


# --- accuracy against anchors ------------------------------------------------------------------


def accuracy_text(report: AccuracyReport, *, source: str) -> str:
    """The text form of ``calibrate accuracy``: a table per assessor, per criterion and overall
    (assessor x criterion cells are in ``--json``)."""

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
        low, high = r.mean_deviation_ci.low, r.mean_deviation_ci.high
        return [
            name,
            str(r.n),
            str(r.n_anchors),
            _num(r.exact),
            _num(r.adjacent),
            _num(r.mean_deviation, "+.3f"),
            f"[{_num(low, '+.3f')}, {_num(high, '+.3f')}]",
            _num(r.mae),
            _num(r.qwk),
            _num(r.n_decisions, "d"),
            _num(r.decision_accuracy),
            _num(r.false_pass, "d"),
            _num(r.false_fail, "d"),
        ]

    o = report.overall
    lines = [
        f"{source}: accuracy against the anchors of {report.rubric} "
        f"({', '.join(report.anchor_sets)}): {o.n:,} ratings of {o.n_anchors} anchors by "
        f"{len(report.assessors)} assessors ({', '.join(report.contexts)}; "
        + ("every reading)" if report.keep is None else f"{report.keep} reading of each)"),
        "",
    ]
    rows = [["assessor", *head], *(line(k, r) for k, r in report.assessors.items())]
    lines += [*_columns(rows, indent="  "), ""]
    rows = [["criterion", *head], *(line(k, r) for k, r in report.criteria.items())]
    lines += [*_columns(rows, indent="  "), ""]
    lines += _columns([["", *head], line("overall", o)], indent="  ")
    lines += [
        "",
        "mean dev = assessor score - expert score: negative = harsher than the experts; CI: "
        "Student's t, standard error clustered by anchor",
        "decisions: readings scoring every criterion, pass rule applied, against the experts' "
        "decision; false pass = passed where the experts do not",
        "per assessor x criterion: --json (assessor_criteria)",
    ]
    return "\n".join(x.rstrip() for x in lines)


NOT_MEASURED = "not measured"


def raters_banner(payload: dict[str, Any]) -> str | None:
    """The line that must come first when the rater results cannot be used as they stand: the
    model did not converge, or some elements cannot be placed (``identified: false``)."""
    counts = {
        key: sum(not e.get("identified", True) for e in payload.get(key, []))
        for key in ("assessors", "criteria", "submissions", "facet")
    }
    names = {
        "assessors": ("assessor", "assessors"),
        "criteria": ("criterion", "criteria"),
        "submissions": ("submission", "submissions"),
        "facet": (f"{payload.get('facet_name')} element", f"{payload.get('facet_name')} elements"),
    }
    parts = [f"{n:,} {names[key][n != 1]}" for key, n in counts.items() if n]
    unplaced = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 2 else parts)
    placed = f"{unplaced} cannot be placed and show as {NOT_MEASURED}"
    if not payload["converged"]:
        return (
            f"NOT TRUSTWORTHY (exit status 3): the rater model did not converge after "
            f"{payload['iterations']} iterations" + (f"; {placed}" if unplaced else "")
        )
    if unplaced:
        return f"WARNING: {placed}"
    return None


def raters_table(payload: dict[str, Any], *, source: str, bias_t: float) -> str:
    """The text form of ``calibrate raters``: compact FACETS-style tables, after a banner line
    when the results cannot be used as they stand (:func:`raters_banner`); bias terms at or
    beyond ``bias_t`` (the programme rule ``flags.bias_t``) are listed."""

    def num(v: Any, fmt: str = ".2f") -> str:
        return _num(v, fmt)

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

        def order(e: dict[str, Any]) -> tuple[bool, float]:
            value = e[measure]
            return (value is None, -(value if value is not None and value == value else 0))

        for e in sorted(payload[key], key=order):
            rows.append(
                [
                    str(e["id"]) + ("" if e["status"] == "estimated" else f" ({e['status']})"),
                    num(e[measure]) if e.get("identified", True) else NOT_MEASURED,
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
        return [title, *_columns(rows), summary(key), ""]

    n_sub = len(payload["submissions"])
    extreme = sum(e["status"] != "estimated" for e in payload["submissions"])
    banner = raters_banner(payload)
    lines = [
        *([banner, ""] if banner else []),
        f"{source}: {payload['n_ratings']:,} ratings ({payload['n_estimation']:,} in estimation), "
        f"{n_sub:,} submissions, {len(payload['assessors'])} assessors, "
        f"{len(payload['criteria'])} criteria; JMLE {payload['scale']} model, "
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
    lines += ["", *_columns(rows), ""]
    flagged = sorted(
        (b for b in payload["bias"] if b["t"] == b["t"] and abs(b["t"]) >= bias_t),
        key=lambda b: -abs(b["t"]),
    )
    lines.append(
        f"assessor x criterion bias, |t| >= {bias_t:g} (rule flags.bias_t): {len(flagged)} of "
        f"{len(payload['bias'])} cells" + (" (largest 10)" if len(flagged) > 10 else "")
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
        lines += _columns(rows)
    subsets = payload["subsets"]
    lines += [
        "",
        "design: connected (one subset)"
        if payload["connected"]
        else f"design: {len(subsets)} disconnected subsets; "
        + "; ".join(f"{len(s['assessors'])} assessors" for s in subsets),
    ]
    return "\n".join(lines)


def severity_table(payload: dict[str, Any], *, source: str) -> str:
    """The text form of ``calibrate raters`` (random-effects model): placed assessors by
    severity with interval and what it says, then those the data cannot place with why and no
    number; criteria, thresholds, spreads. A NOT TRUSTWORTHY line first when the model did not
    converge."""
    tol = payload["tolerance"]
    level = f"{payload['level']:.0%}"
    lines = []
    if not payload["converged"]:
        lines += [
            f"NOT TRUSTWORTHY (exit status 3): the rater model did not converge after "
            f"{payload['iterations']} iterations",
            "",
        ]
    lines += [
        f"{source}: {payload['n_ratings']:,} ratings, {payload['n_submissions']:,} submissions, "
        f"{len(payload['assessors'])} assessors, {len(payload['criteria'])} criteria; "
        "random-effects model, "
        + (
            f"converged in {payload['iterations']} iterations"
            if payload["converged"]
            else f"NOT converged after {payload['iterations']} iterations"
        ),
        "",
        f"assessors (severity in logits, + = harsher, 0 = the average assessor; {level} "
        "interval"
        + (
            f"; tolerance -+{tol:.2g} logits, {payload['tolerance_levels']:g} score levels, rule "
            "flags.severity_levels)"
            if tol is not None
            else ")"
        ),
    ]
    placed = sorted(
        (a for a in payload["assessors"] if a["status"] == "placed"), key=lambda a: -a["severity"]
    )
    rows = [
        ["id", "interval says", "severity", "se", "low", "high", "info", "infit", "outfit", "n"]
    ]
    rows += [
        [
            str(a["id"]),
            str(a["reading"]),
            _num(a["severity"], ".2f"),
            _num(a["se"], ".2f"),
            _num(a["low"], ".2f"),
            _num(a["high"], ".2f"),
            _num(a["information"], ".2f"),
            _num(a["infit"], ".2f"),
            _num(a["outfit"], ".2f"),
            str(a["n"]),
        ]
        for a in placed
    ]
    lines += _columns(rows, left=2)
    unplaced = sorted(
        (a for a in payload["assessors"] if a["status"] != "placed"), key=lambda a: a["id"]
    )
    if unplaced:
        lines += ["", "not placed (the data cannot place them: no severity)"]
        lines += _columns([[str(a["id"]), a["reason"]] for a in unplaced], left=2, indent="  ")
    spread = f"\nseverity SD {_num(payload['severity_sd'], '.2f')} logits"
    if payload["reliability"] is not None:
        spread += (
            f"; reliability {_num(payload['reliability'], '.2f')}, separation "
            f"{_num(payload['separation'], '.2f')}, strata {_num(payload['strata'], '.2f')}"
        )
    lines += [spread, ""]
    rows = [["id", "difficulty", "se", "n"]]
    rows += [
        [str(c["id"]), _num(c["difficulty"], ".2f"), _num(c["se"], ".2f"), str(c["n"])]
        for c in sorted(payload["criteria"], key=lambda c: -c["difficulty"])
    ]
    lines += ["criteria (difficulty in logits, + = harder)", *_columns(rows), ""]
    t = payload["thresholds"]
    cats = t["categories"]
    steps = ", ".join(
        f"{cats[k]:g}->{cats[k + 1]:g} {_num(tau, '.2f')} ({_num(se, '.2f')})"
        for k, (tau, se) in enumerate(zip(t["tau"], t["se"], strict=True))
    )
    lines.append(f"thresholds: {steps}" + ("  DISORDERED" if t["disordered"] else ""))
    lines.append(
        f"submissions: mean {_num(payload['submission_mean'], '.2f')}, SD "
        f"{_num(payload['submission_sd'], '.2f')} logits"
        + (
            f"; design: {payload['n_subsets']} disconnected subsets"
            if payload["n_subsets"] > 1
            else "; design: connected (one subset)"
        )
    )
    return "\n".join(lines)


def gstudy_text(study: GStudy, *, source: str, detected: bool) -> str:
    """The text form of ``calibrate gstudy``: sizes, components, coefficients, D study; with
    bootstrap intervals, each beside its estimate, and the verdict they support."""
    vc, obs, ci = study.components, study.observed, study.intervals

    def interval(bounds: ConfidenceInterval | None) -> str:
        return "" if bounds is None else f" [{_num(bounds.low)}, {_num(bounds.high)}]"

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
    level = "" if ci is None else f" {100 * ci.level:g}% interval"
    rows = [["effect", "source", "raw", "estimate", *([level.strip()] if ci else []), "share"]]
    for k, c in enumerate(vc.components):
        share = f"{100 * c.estimate / total:.1f}%" if total > 0 else "-"
        bounds = [] if ci is None else [interval(ci.components[k]).strip()]
        rows.append([c.effect, c.source, f"{c.raw:.4f}", f"{c.estimate:.4f}", *bounds, share])
    lines += _columns(rows, left=2, indent="  ")

    lines += [
        "",
        f"observed design ({obs.n_assessors:.2f} assessors, {obs.n_criteria:g} criteria): "
        f"G (relative, E rho^2) {_num(obs.g)}{interval(None if ci is None else ci.observed.g)}, "
        f"Phi (absolute) {_num(obs.phi)}{interval(None if ci is None else ci.observed.phi)}",
    ]
    if ci is not None:
        lines.append(
            f"intervals: {ci.n_boot:,} resamples of submissions (boot-p, {ci.adjustment} "
            f"adjustment){f'; {ci.n_undefined:,} left out, undefined' if ci.n_undefined else ''}"
        )
    lines.append("")
    several = len({row.n_criteria for row in study.d_study}) > 1
    if not several:
        lines.append(f"D study ({study.d_study[0].n_criteria:g} criteria)")
    rows = [
        [*(["criteria"] if several else []), "assessors", "rel. error", "abs. error", "G", "Phi"]
    ]
    for k, row in enumerate(study.d_study):
        d = None if ci is None else ci.d_study[k]
        rows.append(
            [
                *([f"{row.n_criteria:g}"] if several else []),
                f"{row.n_assessors:g}",
                f"{row.relative_error:.4f}",
                f"{row.absolute_error:.4f}",
                _num(row.g) + interval(None if d is None else d.g),
                _num(row.phi) + interval(None if d is None else d.phi),
            ]
        )
    lines += _columns(rows, left=0, indent="  ")

    def needed(n: int | None, limit: float) -> str:
        if n is None:
            return f"not reachable (at most {_num(limit)} with {obs.n_criteria:g} criteria)"
        return str(n)

    def assured(n: int | None, most: int) -> str:
        if n is None:
            return f"; the interval's lower bound reaches it with no number up to {most}"
        return f"; {n} by the interval's lower bound"

    lines += [
        "",
        f"assessors per submission to reach {study.target:g} ({obs.n_criteria:g} criteria):",
        f"  on Phi (pass/not-yet decisions against the standard): "
        f"{needed(study.assessors_needed_phi, study.limit.phi)}"
        + (
            ""
            if ci is None
            else assured(ci.assessors_needed_phi.assured, ci.assessors_needed_phi.max_assessors)
        ),
        f"  on G (ranking submissions): {needed(study.assessors_needed_g, study.limit.g)}"
        + (
            ""
            if ci is None
            else assured(ci.assessors_needed_g.assured, ci.assessors_needed_g.max_assessors)
        ),
    ]
    if ci is not None:
        verdict = study.verdict()
        lines += ["", f"verdict at the observed design: {verdict.verdict}: {verdict.reason}"]
    else:
        lines += ["", "no verdict without intervals (--bootstrap 0)"]
    return "\n".join(line.rstrip() for line in lines)


def _columns(rows: list[list[str]], *, left: int = 1, indent: str = "") -> list[str]:
    """Align a table: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (
            indent
            + "  ".join(
                c.ljust(w) if i < left else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        ).rstrip()
        for row in rows
    ]


def _num(v: float | int | None, fmt: str = ".3f") -> str:
    """A number for a table, ``-`` where it is missing or undefined (NaN)."""
    return "-" if v is None or v != v else format(v, fmt)


def decisions_text(d: DecisionAgreement, *, rubric: Rubric | None = None) -> str:
    """Pass-decision agreement of double-scored submissions, as lines of text."""
    rule = f" ({rubric.key} pass rule)" if rubric is not None else ""
    kappa_ci, ac1_ci = d.kappa.confidence_interval(), d.ac1.confidence_interval()
    kappa_low, kappa_high = kappa_ci.low, kappa_ci.high
    ac1_low, ac1_high = ac1_ci.low, ac1_ci.high
    return "\n".join(
        [
            f"pass decisions, first against second reading{rule}: {d.n:,} submissions",
            f"  same decision      {100 * d.percent:.1f}%  ({d.n_discrepant:,} discrepant: "
            "candidates for adjudication)",
            f"  Cohen kappa        {_num(d.kappa.kappa)} [{_num(kappa_low)}, {_num(kappa_high)}]",
            f"  Gwet AC1           {_num(d.ac1.coefficient)} [{_num(ac1_low)}, {_num(ac1_high)}]",
        ]
    )


def rules_text(rows: list[dict[str, Any]], *, heading: str) -> str:
    """The text form of ``calibrate rules``: one line per rule (name, value, default when it
    differs, per rubric or programme-wide) and its help, grouped as the table is."""
    lines = [heading, ""]
    table = [["rule", "value", "default", "applies", "meaning"]]
    for r in rows:
        value, default = rule_value(r["value"]), rule_value(r["default"])
        table.append(
            [
                r["name"],
                value + (" *" if r["overridden"] else ""),
                default if default != value or r["overridden"] else "",
                "per rubric" if r["per_rubric"] else "programme",
                r["help"],
            ]
        )
    lines += _columns(table, left=len(table[0]))
    lines += ["", "* set by the issuer's overrides file. Sources: docs/rules.md or --json."]
    return "\n".join(lines)


def rule_value(v: Any) -> str:
    """A rule's value as people read it (``by scale`` when it depends on the rubric's scale)."""
    if v is None:
        return "by scale"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:g}" if isinstance(v, float) else str(v)
