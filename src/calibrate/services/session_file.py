"""The command line's login: session tokens kept in a file, one per store, and the account a
command acts for.

``calibrate login`` keeps the session's token in :func:`session_path` (default
``~/.config/calibrate/session.json``, else ``CALIBRATE_SESSION_FILE``), readable and writable by
its owner alone (mode 0600), keyed by the store's URL with any password hidden
(:func:`store_key`). A command on a store with a saved session acts as that account
(:func:`calibrate.services.session_actor`: an expired or ended session is refused, never
silently replaced); on a store without one it acts as the operator
(:meth:`calibrate.access.Actor.operator`): whoever holds the database's credentials can read and
change the database directly anyway, so calibrate lets them act and records them as
``operator:<user>@<host>``. The boundary is the database's own: the SQLite file's permissions,
the PostgreSQL role's password.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calibrate.access import Actor
from calibrate.errors import CalibrateError
from calibrate.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.services.accounts import Login

SESSION_FILE_ENV = "CALIBRATE_SESSION_FILE"
"""The environment variable naming another session file."""


def session_path() -> Path:
    """The session file: ``$CALIBRATE_SESSION_FILE``, else ``~/.config/calibrate/session.json``
    (``$XDG_CONFIG_HOME`` when set)."""
    named = os.environ.get(SESSION_FILE_ENV)
    if named:
        return Path(named).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "calibrate" / "session.json"


def store_key(database: str | None) -> str:
    """The store ``database`` names (default: the ``CALIBRATE_DATABASE_URL`` setting), as the
    session file keys it: the URL with its password hidden, a SQLite file by its absolute path.

    Raises
    ------
    CalibrateError
        Not a database URL.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from calibrate.store.engine import normalise_url

    text = database or get_settings().database_url
    try:
        url = make_url(normalise_url(text))
    except ArgumentError:
        raise CalibrateError(f"{text!r} is not a database URL") from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    return url.render_as_string(hide_password=True)


@dataclass(frozen=True)
class SavedSession:
    """A session kept for one store."""

    token: str
    username: str
    expires_at: str


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CalibrateError(f"cannot read the session file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise CalibrateError(
            f"the session file {path} is not JSON: remove it and log in again"
        ) from None
    sessions = data.get("sessions") if isinstance(data, dict) else None
    return sessions if isinstance(sessions, dict) else {}


def _write(path: Path, sessions: dict[str, Any]) -> None:
    """Replace the file at once, created with mode 0600 (its folder 0700 when made here)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".session-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"sessions": sessions}, fh, indent=2, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CalibrateError(f"cannot write the session file {path}: {exc.strerror}") from None


def saved_session(database: str | None) -> SavedSession | None:
    """The session kept for the store ``database``, or None."""
    entry = _read(session_path()).get(store_key(database))
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    return SavedSession(entry["token"], str(entry.get("username")), str(entry.get("expires_at")))


def save_session(database: str | None, login: Login) -> Path:
    """Keep ``login``'s token for the store ``database``; returns the file."""
    path = session_path()
    sessions = _read(path)
    sessions[store_key(database)] = {
        "token": login.token,
        "username": login.actor.name,
        "expires_at": _iso(login.expires_at),
    }
    _write(path, sessions)
    return path


def forget_session(database: str | None) -> SavedSession | None:
    """Drop the session kept for the store ``database``; the dropped one, or None."""
    path = session_path()
    sessions = _read(path)
    found = saved_session(database)
    if sessions.pop(store_key(database), None) is not None:
        _write(path, sessions)
    return found


def acting_account(database: str | None, *, engine: Engine | None = None) -> Actor:
    """The account a command on the store ``database`` (opened as ``engine``; opened here only
    when a session is kept for it) acts for: the logged-in account, else the operator.

    Raises
    ------
    AuthenticationError
        The saved session expired or was ended, or its account was disabled: log in again.
    """
    from calibrate.services.accounts import session_actor

    saved = saved_session(database)
    if saved is None:
        return Actor.operator()
    if engine is None:
        from calibrate.services.connection import connected

        with connected(database) as opened:
            return session_actor(saved.token, engine=opened)
    return session_actor(saved.token, engine=engine)


def operator() -> Actor:
    """The operator: whoever runs the CLI without a login (holding the database credentials)."""
    return Actor.operator()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "SavedSession",
    "acting_account",
    "forget_session",
    "operator",
    "save_session",
    "saved_session",
    "session_path",
    "store_key",
]
