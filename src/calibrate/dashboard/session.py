"""Who is using the dashboard: the login page, single sign-on, the session and logging out.

A login (:func:`calibrate.services.login`, or :func:`calibrate.services.sso_login` for an
identity Streamlit's single sign-on vouched for) gives a session token; the browser session
keeps that token in ``st.session_state`` (never the password), and every rerun resolves it to
the acting account with :func:`calibrate.services.session_actor`, so that a session's expiry,
an account disabled or re-roled by an administrator, and logging out take effect at the next
click.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.dashboard import data
from calibrate.dashboard.text import error, escape, warning
from calibrate.errors import AuthenticationError, CalibrateError
from calibrate.settings import get_settings

if TYPE_CHECKING:
    from calibrate.access import Actor

TOKEN = "calibrate_session"
"""The session-state key of the session token (the only secret the browser session holds)."""
NOTICE = "calibrate_notice"
"""The session-state key of a message for the login page (a session that ended)."""

DEMO_BANNER = (
    "**Demo.** Everything here is simulated data (a made-up programme, assessors and earners), "
    "shown to try calibrate out. Never put real ratings into a demo store."
)


def demo_banner() -> None:
    """On every page in demo mode (``CALIBRATE_DEMO=1``): this is a demo with simulated data."""
    st.warning(DEMO_BANNER, icon=":material/science:")


def sso_configured() -> bool:
    """Whether Streamlit's single sign-on is configured (an ``[auth]`` section in
    ``.streamlit/secrets.toml``): without a secrets file, no."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file (StreamlitSecretNotFoundError), or an unreadable one
        return False


def _sso_email() -> str | None:
    """The e-mail of the identity single sign-on vouched for, if someone logged in with it."""
    if not sso_configured():
        return None
    try:
        user: Any = st.user
        if not user.get("is_logged_in", False):
            return None
        email = user.get("email")
    except Exception:  # no user information in this context
        return None
    return str(email) if email else None


def current_actor(url: str) -> Actor | None:
    """The account this browser session acts for, resolved again on every rerun; None when
    no one is logged in (or the session ended: the login page then says why)."""
    engine = data.engine(url)
    token = st.session_state.get(TOKEN)
    if token is None:
        email = _sso_email()
        if email is None:
            return None
        try:
            token = services.sso_login(email, engine=engine).token
        except CalibrateError as exc:
            st.session_state[NOTICE] = str(exc)
            return None
        st.session_state[TOKEN] = token
    try:
        return services.session_actor(token, engine=engine)
    except AuthenticationError as exc:
        del st.session_state[TOKEN]
        st.session_state[NOTICE] = str(exc)
        return None


def _log_in(url: str, username: str, password: str) -> None:
    """Log in with a user name and password; on success keep the token and rerun as that
    account (the login form, and the password in it, are then gone)."""
    username = username.strip()
    if not username or not password:
        error("Enter your user name and password.")
        return
    try:
        login = services.login(username, password, engine=data.engine(url))
    except CalibrateError as exc:  # wrong name or password, rate limit, disabled account
        error(exc)
        return
    st.session_state[TOKEN] = login.token
    st.rerun()


def render_login(url: str) -> None:
    """The login page: user name and password, single sign-on when configured, and in demo
    mode a button per demo account."""
    st.title("calibrate")
    st.caption("Scoring rigor for educator micro-credentials: agreement, rater effects, evidence.")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        warning(notice)
    left, _ = st.columns([2, 3])
    with left:
        with st.form("login", clear_on_submit=True):
            st.subheader("Log in")
            username = st.text_input("User name", key="login_username", autocomplete="username")
            # No key: a keyed widget's value would be kept in st.session_state.
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Log in", type="primary")
        if submitted:
            _log_in(url, username, password)
        if sso_configured():
            _sso_buttons()
    if get_settings().demo:
        _demo_accounts(url)


def _sso_buttons() -> None:
    """One single sign-on button, or one per provider when ``[auth]`` names several
    (``[auth.google]``, ``[auth.microsoft]``: Streamlit's ``st.login(provider)``)."""
    try:
        providers = sorted(k for k, v in st.secrets["auth"].items() if isinstance(v, Mapping))
    except Exception:  # an unreadable section: the default provider
        providers = []
    if not providers:
        st.button("Log in with single sign-on", key="login_sso", on_click=st.login)
    for name in providers:
        st.button(
            f"Log in with single sign-on ({name})",
            key=f"login_sso_{name}",
            on_click=st.login,
            args=(name,),
        )


def _demo_accounts(url: str) -> None:
    from calibrate.services.demo import DEMO_PASSWORD, demo_accounts

    st.subheader("Demo accounts")
    st.caption(
        f"Try each role: one click logs in as that account (password {DEMO_PASSWORD}). They "
        "exist once the demo programme is loaded (`calibrate demo`)."
    )
    for username, role, what in demo_accounts():
        button, words = st.columns([1, 3], vertical_alignment="center")
        if button.button(f"Log in as {username}", key=f"demo_{username}", width="stretch"):
            _log_in(url, username, DEMO_PASSWORD)
        words.markdown(f"**{role.capitalize()}**: {what}.")


def sidebar(actor: Actor, url: str) -> None:
    """Who is logged in, and the Log out button."""
    with st.sidebar:
        st.caption(f"Logged in as **{escape(actor.name)}** ({actor.role})")
        if st.button("Log out", key="logout", icon=":material/logout:"):
            log_out(url)


def log_out(url: str) -> None:
    """End the session (in the store, so the token is worthless), and single sign-on's."""
    token = st.session_state.pop(TOKEN, None)
    if token is not None:
        services.logout(token, engine=data.engine(url))
    if _sso_email() is not None:
        st.logout()  # else the next run would log the same identity in again
    st.rerun()
