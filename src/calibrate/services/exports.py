"""Exports of stored ratings as CSV (``calibrate export ratings``), safe to open in a spreadsheet.

A key in a scoring platform's file may be any printable text, so an exported cell could start a
formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``) that a spreadsheet runs when the file is
opened: CSV injection (CWE-1236). Every cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is written with a leading apostrophe (:func:`neutralise`), as the OWASP
guidance on CSV injection asks; the spreadsheet then shows it as text. Scores and attempts are
whole numbers and stay numbers. Every export is recorded in the audit log (``ratings.export``:
who, which rubric version and context, how many rows, the SHA-256 of the text).
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import TYPE_CHECKING

from calibrate.access import Actor, require
from calibrate.errors import CalibrateError
from calibrate.ratings import ANCHOR_CONTEXTS, CONTEXTS

if TYPE_CHECKING:
    from sqlalchemy import Engine

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""

COLUMNS = (
    "submission",
    "assessor",
    "criterion",
    "score",
    "timestamp",
    "attempt",
    "earner",
    "rubric",
    "context",
    "round",
)
"""The columns of an export: the ratings import format (README, Ratings files)."""


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: with a leading apostrophe when it begins
    with a formula character (:data:`FORMULA_STARTS`).

    >>> neutralise("=1+2"), neutralise("-1"), neutralise("T-17"), neutralise("3")
    ("'=1+2", "'-1", 'T-17', '3')
    """
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def export_ratings(*, engine: Engine, actor: Actor, rubric: str, context: str = "live") -> str:
    """The current ratings (corrections applied) of one stored rubric version in one context,
    as CSV text in the ratings import format, every cell neutralised (:func:`neutralise`); the
    export is recorded in the audit log.

    Parameters
    ----------
    rubric : str
        ``id@version``, or ``id`` when the store holds one version (of the actor's issuers: a
        rubric of another issuer is not in the store).
    context : str
        ``live`` (default), ``practice``, ``qualification`` or ``validity``.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator (assessors, lead assessors and board reviewers
        never receive identified rows in bulk).
    CalibrateError
        Unknown context or rubric.
    """
    from calibrate.store import load_ratings, stored_rubric
    from calibrate.store.accounts import rubric_issuers
    from calibrate.store.audit import append_event
    from calibrate.store.engine import writing

    require(actor, "ratings.export")
    context = context.lower()
    if context not in CONTEXTS:
        raise CalibrateError(f"unknown context {context!r} (one of {', '.join(CONTEXTS)})")
    version = stored_rubric(rubric, engine=engine, issuers=actor.issuers)
    issuer = rubric_issuers(engine=engine).get(version.key)
    if issuer is not None:
        require(actor, "ratings.export", issuer=issuer)
    ratings = load_ratings(engine=engine, rubric=version.key, contexts=[context])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    anchors = context in ANCHOR_CONTEXTS
    empty = [""] * len(ratings)
    column = {name: ratings.columns.get(name, empty) for name in COLUMNS[4:]}
    for i in range(len(ratings)):
        unit = ratings.units[ratings.unit[i]]
        if anchors and unit.startswith("anchor:"):
            unit = unit[len("anchor:") :]
        value = float(ratings.value[i])
        score = str(int(value)) if value.is_integer() else str(value)
        row = [
            unit,
            ratings.raters[ratings.rater[i]],
            ratings.criteria[ratings.criterion[i]],
            score,
            *(str(column[name][i] or "") for name in COLUMNS[4:]),
        ]
        writer.writerow([neutralise(cell) for cell in row])
    text = out.getvalue()
    with writing(engine) as conn:
        append_event(
            conn,
            actor=actor.name,
            action="ratings.export",
            subject=version.key,
            issuer=issuer,
            detail={
                "context": context,
                "rows": len(ratings),
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            },
        )
    return text


__all__ = ["COLUMNS", "FORMULA_STARTS", "export_ratings", "neutralise"]
