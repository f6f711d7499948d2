"""The programme rules a door shows or applies: the defaults of :mod:`calibrate.rules`, an
issuer's overrides file, resolved for one stored rubric version (its scale and its overrides)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from calibrate.rules import ProgrammeRules, RuleOverrides, read_rules, rules_for
from calibrate.store import stored_rubric


def programme_rules(
    *,
    engine: Engine | None = None,
    rubric: str | None = None,
    overrides: Path | None = None,
) -> ProgrammeRules:
    """The rules in force: for the programme (scale-dependent rules unresolved) or, with
    ``rubric`` (``id@version``, or ``id`` when the store holds one version), for that stored
    rubric version, with the issuer's ``overrides`` file applied when given.

    Raises
    ------
    CalibrateError
        A rubric without a store, an unknown rubric, or an overrides file that breaks the rules
        table (each problem with its line and rule name).
    """
    chosen = RuleOverrides() if overrides is None else read_rules(overrides)
    if rubric is None:
        return rules_for(None, chosen)
    if engine is None:
        raise ValueError("programme_rules: a rubric needs the store (engine=)")
    return rules_for(stored_rubric(rubric, engine=engine), chosen)
