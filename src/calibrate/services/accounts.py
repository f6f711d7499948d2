"""Accounts and logins: the first administrator, adding, disabling and re-roling accounts,
board grants, password and single sign-on logins, sessions.

Passwords are kept only as Argon2id hashes (argon2-cffi, RFC 9106 parameters of the library's
default profile). Logins are rate-limited per user name (``CALIBRATE_LOGIN_FAILURES`` failures
within ``CALIBRATE_LOGIN_WINDOW_MINUTES``, counted in the store, so every dashboard process and
the CLI share them); a session is a random 256-bit token of which the store keeps only the
SHA-256, valid for ``CALIBRATE_SESSION_HOURS``. Every change is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calibrate.access import ROLES, AccountRole, Actor, require
from calibrate.errors import AccessDenied, AuthenticationError, CalibrateError
from calibrate.settings import get_settings
from calibrate.store.accounts import (
    AccountRecord,
    change_account,
    close_session,
    create_account,
    failures_since,
    find_account,
    list_accounts,
    open_session,
    password_hash,
    record_attempt,
    session_account,
    set_grant,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIN_PASSWORD = 12
"""Shortest password accepted (NIST SP 800-63B §5.1.1.2 asks at least 8; we ask 12 and no upper
limit below 256)."""

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("calibrate: the hash checked when the user name is unknown")


@dataclass(frozen=True)
class Login:
    """A session: the token to present (keep it secret), who it acts for, until when."""

    token: str
    actor: Actor
    expires_at: datetime


def actor_of(account: AccountRecord) -> Actor:
    """The :class:`Actor` an account acts as."""
    return Actor(
        name=account.username,
        role=account.role,  # type: ignore[arg-type]
        issuer=account.issuer,
        assessor=account.assessor,
        grants=frozenset(account.grants),
        account_id=account.id,
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str, username: str) -> None:
    """Refuse a password too short, too long, or equal to the user name.

    Raises
    ------
    CalibrateError
    """
    if len(password) < MIN_PASSWORD:
        raise CalibrateError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 256:
        raise CalibrateError("a password may have at most 256 characters")
    if password.strip().lower() == username.strip().lower():
        raise CalibrateError("a password must not be the user name")


def _open(engine: Engine, account: AccountRecord) -> Login:
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=get_settings().session_hours)
    open_session(
        engine=engine, account_id=account.id, token_hash=_token_hash(token), expires_at=expires
    )
    return Login(token, actor_of(account), expires)


def login(username: str, password: str, *, engine: Engine) -> Login:
    """Log in with a user name and password.

    Raises
    ------
    AuthenticationError
        Too many failed attempts for this name in the window (even with the right password,
        until the window has passed); a wrong name or password (one message for both); a
        disabled account (said only once the password was right).
    """
    settings = get_settings()
    window = timedelta(minutes=settings.login_window_minutes)
    now = datetime.now(UTC)
    failed = failures_since(engine=engine, username=username, since=now - window)
    if len(failed) >= settings.login_failures:
        until = failed[-settings.login_failures] + window
        raise AuthenticationError(
            f"too many failed logins for {username!r}: try again after "
            f"{until:%H:%M} UTC ({settings.login_failures} allowed per "
            f"{settings.login_window_minutes:g} minutes)"
        )
    stored = password_hash(engine=engine, username=username)
    try:
        _HASHER.verify(stored or _DUMMY, password)  # the same work for an unknown name
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    record_attempt(engine=engine, username=username, succeeded=ok)
    if not ok:
        raise AuthenticationError("wrong user name or password")
    account = find_account(engine=engine, username=username)
    if account is None:  # removed between the two reads
        raise AuthenticationError("wrong user name or password")
    if account.disabled:
        raise AuthenticationError(f"account {username!r} is disabled: ask your administrator")
    if stored is not None and _HASHER.check_needs_rehash(stored):
        change_account(
            engine=engine,
            username=username,
            by=username,
            action="account.rehash",
            issuer=account.issuer,
            password_hash=_HASHER.hash(password),
        )
    return _open(engine, account)


def sso_login(identity: str, *, engine: Engine) -> Login:
    """Log in an identity the dashboard's single sign-on (``st.login``, OpenID Connect) vouched
    for: its e-mail, mapped to the account that names it.

    Raises
    ------
    AuthenticationError
        No account has that identity, or it is disabled.
    """
    account = find_account(engine=engine, sso_identity=identity)
    if account is None:
        raise AuthenticationError(
            f"{identity!r} has no calibrate account: ask your administrator to add it "
            "(calibrate accounts add ... --sso EMAIL)"
        )
    if account.disabled:
        raise AuthenticationError(f"account {account.username!r} is disabled")
    return _open(engine, account)


def session_actor(token: str, *, engine: Engine) -> Actor:
    """The account a session token acts for.

    Raises
    ------
    AuthenticationError
        Unknown, revoked or expired session, or a disabled account: log in again.
    """
    found = session_account(engine=engine, token_hash=_token_hash(token))
    if found is None:
        raise AuthenticationError("the session has expired or was ended: log in again")
    account, _expires = found
    if account.disabled:
        raise AuthenticationError(f"account {account.username!r} is disabled")
    return actor_of(account)


def logout(token: str, *, engine: Engine) -> None:
    """End a session."""
    close_session(engine=engine, token_hash=_token_hash(token))


def _role(role: str) -> AccountRole:
    if role not in get_args(AccountRole):
        raise CalibrateError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return role  # type: ignore[return-value]


def _manageable(actor: Actor, account: AccountRecord | None, username: str) -> AccountRecord:
    """The account ``username`` if ``actor`` may manage it (an administrator: accounts of their
    issuer, and board reviewers they granted)."""
    require(actor, "accounts.manage")
    if account is None or (
        not actor.is_operator
        and account.issuer != actor.issuer
        and not (account.role == "board" and actor.issuer in account.grants)
    ):
        raise CalibrateError(f"no account {username!r}")
    return account


def add_account(
    *,
    engine: Engine,
    actor: Actor,
    username: str,
    role: str,
    password: str | None = None,
    issuer: str | None = None,
    assessor: str | None = None,
    display_name: str | None = None,
    sso_identity: str | None = None,
    grants: tuple[str, ...] = (),
) -> AccountRecord:
    """Add an account. An administrator adds accounts of their own issuer (and board reviewers
    granted their issuer); the operator adds any, creating the issuer on first use.

    Raises
    ------
    AccessDenied
        Not an administrator or the operator; another issuer.
    CalibrateError
        Unknown role; no password and no single sign-on identity; a weak password; an assessor
        without their assessor key; an issuer for a board reviewer, or none for the others.
    """
    require(actor, "accounts.manage")
    role = _role(role)
    if role == "board":
        if issuer is not None:
            raise CalibrateError("a board reviewer belongs to no issuer: give --grant ISSUER")
        if not actor.is_operator:
            if any(g != actor.issuer for g in grants):
                raise AccessDenied(f"{actor.name} may grant access to issuer {actor.issuer!r} only")
            grants = (str(actor.issuer),)
    else:
        issuer = issuer or (actor.issuer if not actor.is_operator else None)
        if issuer is None:
            raise CalibrateError(f"a {role} account needs its issuer (--issuer)")
        if not actor.sees_issuer(issuer):
            raise AccessDenied(f"{actor.name} may add accounts of issuer {actor.issuer!r} only")
        if grants:
            raise CalibrateError("only board reviewers hold grants")
    if role in ("assessor", "lead") and not assessor:
        raise CalibrateError(
            f"a {role} account needs the assessor key their ratings carry (--assessor)"
        )
    if password is None and sso_identity is None:
        raise CalibrateError("an account needs a password or a single sign-on identity (--sso)")
    if password is not None:
        check_password(password, username)
    return create_account(
        engine=engine,
        username=username,
        display_name=display_name or username,
        role=role,
        issuer=issuer,
        assessor=assessor,
        hashed=None if password is None else _HASHER.hash(password),
        sso_identity=sso_identity,
        grants=grants,
        by=actor.name,
        create_issuer=actor.is_operator,
    )


def create_first_admin(
    *, engine: Engine, actor: Actor, username: str, password: str, issuer: str = "default"
) -> AccountRecord:
    """The first administrator of an issuer (the operator only: whoever holds the database).

    Raises
    ------
    AccessDenied
        Not the operator.
    CalibrateError
        The issuer already has an administrator (add more through them), or what
        :func:`add_account` refuses.
    """
    if not actor.is_operator:
        raise AccessDenied(
            "only the operator (the CLI without a login) creates a first administrator"
        )
    if any(a.role == "admin" and a.issuer == issuer for a in list_accounts(engine=engine)):
        raise CalibrateError(
            f"issuer {issuer!r} has an administrator already: they add further accounts"
        )
    return add_account(
        engine=engine,
        actor=actor,
        username=username,
        role="admin",
        password=password,
        issuer=issuer,
    )


def managed_accounts(*, engine: Engine, actor: Actor) -> list[AccountRecord]:
    """The accounts ``actor`` manages: all for the operator; an administrator's issuer's, and
    the board reviewers it granted."""
    require(actor, "accounts.manage")
    return [
        a
        for a in list_accounts(engine=engine)
        if actor.is_operator
        or a.issuer == actor.issuer
        or (a.role == "board" and actor.issuer in a.grants)
    ]


def set_role(
    *, engine: Engine, actor: Actor, username: str, role: str, reason: str | None = None
) -> AccountRecord:
    """Give an account another role (its sessions end). A board role cannot be given or taken
    here: board reviewers have no issuer; add a new account instead."""
    account = _manageable(actor, find_account(engine=engine, username=username), username)
    role = _role(role)
    if "board" in (role, account.role) and role != account.role:
        raise CalibrateError("board reviewers are separate accounts: add one with --role board")
    if role in ("assessor", "lead") and not account.assessor:
        raise CalibrateError(f"{username!r} has no assessor key: an {role} needs one")
    if account.username == actor.name and role != "admin":
        raise CalibrateError("an administrator cannot take their own administrator role away")
    return change_account(
        engine=engine,
        username=username,
        by=actor.name,
        action="account.role",
        issuer=account.issuer,
        reason=reason,
        role=role,
    )


def set_disabled(
    *, engine: Engine, actor: Actor, username: str, disabled: bool, reason: str | None = None
) -> AccountRecord:
    """Disable (its sessions end at once) or re-enable an account."""
    account = _manageable(actor, find_account(engine=engine, username=username), username)
    if disabled and account.username == actor.name:
        raise CalibrateError("you cannot disable your own account")
    return change_account(
        engine=engine,
        username=username,
        by=actor.name,
        action="account.disable" if disabled else "account.enable",
        issuer=account.issuer,
        reason=reason,
        disabled=disabled,
    )


def set_password(*, engine: Engine, actor: Actor, username: str, password: str) -> AccountRecord:
    """Set a password: one's own, or (administrator, operator) an account's they manage. Every
    session of the account ends."""
    account = find_account(engine=engine, username=username)
    if account is None or account.username != actor.name:
        account = _manageable(actor, account, username)
    check_password(password, username)
    return change_account(
        engine=engine,
        username=username,
        by=actor.name,
        action="account.password",
        issuer=account.issuer,
        password_hash=_HASHER.hash(password),
    )


def grant_board(
    *, engine: Engine, actor: Actor, username: str, issuer: str, granted: bool = True
) -> AccountRecord:
    """Grant (or withdraw) a board reviewer's access to an issuer's aggregates: that issuer's
    administrator, or the operator."""
    require(actor, "accounts.manage", issuer=issuer)
    account = find_account(engine=engine, username=username)
    if account is None or account.role != "board":
        raise CalibrateError(f"no board reviewer {username!r}")
    return set_grant(
        engine=engine, username=username, issuer=issuer, granted=granted, by=actor.name
    )
