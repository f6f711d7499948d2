"""Audit log page (administrators, board reviewers): who did what and when, and the store's
integrity check (:mod:`calibrate.services.audit`, as ``calibrate audit`` and ``calibrate
verify``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import data
from calibrate.dashboard.text import error, escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor


def render(actor: Actor) -> None:
    st.title("Audit log")
    scope = ", ".join(sorted(actor.issuers or ())) or "none"
    st.caption(
        "Every change to the store (imports of rubrics and ratings, corrections, accounts and "
        "board access) as an append-only chain: each event carries the hash of the one before, "
        f"so a rewritten or deleted event breaks the chain. Events about issuer(s): "
        f"{escape(scope)}."
    )
    engine = data.engine(data.database_url())
    _verify(engine, actor)
    st.subheader("Events")
    limit = st.columns([1, 3])[0].number_input(
        "Newest events shown",
        min_value=10,
        max_value=10_000,
        value=200,
        step=50,
        key="audit_limit",
    )
    events = services.audit_log(engine=engine, actor=actor, limit=int(limit))
    if not events:
        st.info("No events yet.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "seq": [e.seq for e in events],
                "at": [e.at for e in events],
                "by": [e.actor for e in events],
                "action": [e.action for e in events],
                "issuer": [e.issuer or "" for e in events],
                "subject": [e.subject for e in events],
                "detail": [json.dumps(e.detail, ensure_ascii=False) for e in events],
                "hash": [e.hash for e in events],
            }
        ),
        hide_index=True,
        key="audit_table",
        column_config={
            "seq": st.column_config.NumberColumn(format="%d"),
            "at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "hash": st.column_config.TextColumn(
                help="SHA-256 of this event and the previous event's hash."
            ),
        },
    )


def _verify(engine: Engine, actor: Actor) -> None:
    st.subheader("Integrity")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    expect = left.text_input(
        "Head recorded earlier (optional)",
        key="audit_expect",
        placeholder="SEQ:HASH",
        help="The head a previous check showed: the check then also proves that nothing up to "
        "it was rewritten.",
    ).strip()
    if not right.button("Verify integrity", key="audit_verify", type="primary", width="stretch"):
        st.caption(
            "Checks the audit chain, every rating against the seal that recorded it, revision "
            "chains and references (as `calibrate verify`)."
        )
        return
    try:
        result = services.verify(engine=engine, actor=actor, expect=expect or None)
    except CalibrateError as exc:  # a malformed head: one line
        error(exc)
        return
    if result.ok:
        st.success(
            f"The store holds together: {result.events:,} events and {result.ratings:,} "
            "ratings checked.",
            icon=":material/verified:",
        )
    else:
        st.error(
            f"{len(result.problems):,} problem(s) found ({result.events:,} events and "
            f"{result.ratings:,} ratings checked):",
            icon=":material/error:",
        )
        st.text("\n".join(result.problems))
    if result.head:
        st.caption(
            "Record this head (somewhere the store's users cannot write) and give it next time:"
        )
        st.code(result.head, language=None)
