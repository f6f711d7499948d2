"""Accounts page (administrators): the issuer's accounts; add one, disable or enable it, change
its role, grant a board reviewer access (:mod:`calibrate.services.accounts`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.access import ROLES
from calibrate.dashboard import data
from calibrate.dashboard.text import error, escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor

DONE = "accounts_done"
"""Session-state key of the message on what the last change did (shown after the rerun)."""


def render(actor: Actor) -> None:
    st.title("Accounts")
    st.caption(
        f"The accounts of issuer {escape(actor.issuer)}, and the board reviewers it granted "
        "access. Disabling an account or changing its role ends its sessions at once; every "
        "change is in the audit log."
    )
    engine = data.engine(data.database_url())
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(escape(done), icon=":material/check:")
    found = services.managed_accounts(engine=engine, actor=actor)
    st.dataframe(
        pd.DataFrame(
            {
                "user name": [a.username for a in found],
                "name": [a.display_name for a in found],
                "role": [a.role for a in found],
                "assessor key": [a.assessor or "" for a in found],
                "single sign-on": [a.sso_identity or "" for a in found],
                "password": ["set" if a.has_password else "none" for a in found],
                "status": ["disabled" if a.disabled else "active" for a in found],
                "board access to": [", ".join(a.grants) for a in found],
                "created": [a.created_at for a in found],
            }
        ),
        hide_index=True,
        key="accounts_table",
        column_config={"created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )
    st.caption(" ".join(f"**{role.capitalize()}**: {words}" for role, words in ROLES.items()))
    add, change, board = st.columns(3, gap="large")
    with add:
        _add(engine, actor)
    with change:
        _change(engine, actor, [a.username for a in found], {a.username: a.role for a in found})
    with board:
        _board(engine, actor)


def _apply(message: str, action: Callable[[], object]) -> None:
    """Run a change; on success rerun with ``message`` (so the table shows the change), on a
    refusal say why in one line."""
    try:
        action()
    except CalibrateError as exc:
        error(exc)
        return
    st.session_state[DONE] = message
    st.rerun()


def _add(engine: Engine, actor: Actor) -> None:
    st.subheader("Add an account")
    with st.form("accounts_add", clear_on_submit=True):
        username = st.text_input("User name", key="accounts_add_username")
        name = st.text_input(
            "Display name", key="accounts_add_name", help="Default: the user name."
        )
        role = st.selectbox("Role", list(ROLES), key="accounts_add_role")
        assessor = st.text_input(
            "Assessor key",
            key="accounts_add_assessor",
            help="Assessors and lead assessors: the key their ratings carry in the scoring "
            "platform's files.",
        )
        # No key: a keyed widget's value would be kept in st.session_state.
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="new-password",
            help="At least 12 characters. Leave empty for an account that logs in with single "
            "sign-on only.",
        )
        sso = st.text_input(
            "Single sign-on e-mail",
            key="accounts_add_sso",
            help="The e-mail the identity provider vouches for (optional).",
        )
        submitted = st.form_submit_button("Add account", type="primary")
    if submitted:
        _apply(
            f"Added {username.strip()} ({role}).",
            lambda: services.add_account(
                engine=engine,
                actor=actor,
                username=username.strip(),
                role=role,
                password=password or None,
                assessor=assessor.strip() or None,
                display_name=name.strip() or None,
                sso_identity=sso.strip() or None,
            ),
        )


def _change(engine: Engine, actor: Actor, usernames: list[str], roles: dict[str, str]) -> None:
    st.subheader("Change an account")
    if not usernames:
        st.info("No accounts yet.")
        return
    username: str = st.selectbox(
        "Account", usernames, format_func=lambda u: f"{u} ({roles[u]})", key="accounts_who"
    )
    reason = st.text_input(
        "Reason", key="accounts_reason", help="Kept in the audit log with the change."
    )
    choices: list[str] = [r for r in ROLES if r != "board"]
    if roles[username] != "board":
        role: str = st.selectbox(
            "Role",
            choices,
            index=choices.index(roles[username]) if roles[username] in choices else 0,
            key="accounts_new_role",
        )
        if st.button("Change role", key="accounts_set_role"):
            _apply(
                f"{username} is now {role}.",
                lambda: services.set_role(
                    engine=engine,
                    actor=actor,
                    username=username,
                    role=role,
                    reason=reason.strip() or None,
                ),
            )
    disable, enable = st.columns(2)
    if disable.button("Disable", key="accounts_disable", width="stretch"):
        _apply(
            f"Disabled {username}: its sessions have ended.",
            lambda: services.set_disabled(
                engine=engine,
                actor=actor,
                username=username,
                disabled=True,
                reason=reason.strip() or None,
            ),
        )
    if enable.button("Enable", key="accounts_enable", width="stretch"):
        _apply(
            f"Enabled {username}.",
            lambda: services.set_disabled(
                engine=engine,
                actor=actor,
                username=username,
                disabled=False,
                reason=reason.strip() or None,
            ),
        )


def _board(engine: Engine, actor: Actor) -> None:
    st.subheader("Board access")
    st.caption(
        f"Give a state board reviewer's account read-only access to issuer "
        f"{escape(actor.issuer)}'s aggregates (pseudonymised), or withdraw it."
    )
    username = st.text_input("Board reviewer's user name", key="accounts_board_username").strip()
    grant, withdraw = st.columns(2)
    for column, granted, label in ((grant, True, "Grant"), (withdraw, False, "Withdraw")):
        if column.button(label, key=f"accounts_board_{label.lower()}", width="stretch"):
            if not username:
                error("Enter the board reviewer's user name.")
                continue
            _apply(
                f"{'Granted' if granted else 'Withdrew'} {username} access to "
                f"{actor.issuer}'s aggregates.",
                partial(
                    services.grant_board,
                    engine=engine,
                    actor=actor,
                    username=username,
                    issuer=str(actor.issuer),
                    granted=granted,
                ),
            )
