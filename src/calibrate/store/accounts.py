"""Issuers, accounts, board grants, login sessions and attempts.

Every change to an account or a grant appends an audit event in its own transaction
(:func:`calibrate.store.audit.append_event`). Passwords arrive here already hashed (the services
hash them with Argon2id); session tokens arrive as their SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from calibrate.errors import StoreError
from calibrate.store import models as m
from calibrate.store.audit import append_event
from calibrate.store.engine import reading, writing
from calibrate.store.guards import check_name

_ISSUER = m.Issuer.__table__  # type: ignore[attr-defined]
_ACCOUNT = m.Account.__table__  # type: ignore[attr-defined]
_GRANT = m.BoardGrant.__table__  # type: ignore[attr-defined]
_SESSION = m.LoginSession.__table__  # type: ignore[attr-defined]
_ATTEMPT = m.LoginAttempt.__table__  # type: ignore[attr-defined]
_SECRET = m.StoreSecret.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AccountRecord:
    """An account as the services see it: never its password hash."""

    id: int
    username: str
    display_name: str
    role: str
    issuer: str | None
    assessor: str | None
    sso_identity: str | None
    disabled: bool
    has_password: bool
    grants: tuple[str, ...]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "issuer": self.issuer,
            "assessor": self.assessor,
            "sso_identity": self.sso_identity,
            "disabled": self.disabled,
            "has_password": self.has_password,
            "grants": list(self.grants),
        }


def issuer_id(conn: Connection, key: str, *, create: bool = False, by: str = "") -> int:
    """The id of issuer ``key``; created (and audited) when ``create``.

    Raises
    ------
    StoreError
        No such issuer and not ``create``; a key that is not a name.
    """
    check_name(key, "issuer")
    found = conn.execute(sa.select(_ISSUER.c.id).where(_ISSUER.c.key == key)).scalar()
    if found is not None:
        return int(found)
    if not create:
        raise StoreError(f"no issuer {key!r}")
    new = conn.execute(
        _ISSUER.insert().returning(_ISSUER.c.id),
        {"key": key, "name": key, "created_at": datetime.now(UTC)},
    ).scalar_one()
    append_event(conn, actor=by, action="issuer.create", issuer=key, subject=key)
    return int(new)


def issuers(*, engine: Engine) -> list[str]:
    """Every issuer key, sorted."""
    with reading(engine) as conn:
        return sorted(conn.execute(sa.select(_ISSUER.c.key)).scalars())


def rubric_issuers(*, engine: Engine) -> dict[str, str | None]:
    """The issuer of every stored rubric version (``id@version`` -> issuer key)."""
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(rv.c.rubric_key, rv.c.version, _ISSUER.c.key).select_from(
                rv.outerjoin(_ISSUER, _ISSUER.c.id == rv.c.issuer_id)
            )
        ).all()
    return {f"{k}@{v}": i for k, v, i in rows}


def pseudonym_secret(*, engine: Engine) -> bytes:
    """The store's key for pseudonyms (made by migration 0004)."""
    with reading(engine) as conn:
        value = conn.execute(
            sa.select(_SECRET.c.value).where(_SECRET.c.purpose == "pseudonym")
        ).scalar_one()
    return bytes.fromhex(value)


def _records(conn: Connection, where: Any = None) -> list[AccountRecord]:
    query = sa.select(_ACCOUNT, _ISSUER.c.key.label("issuer_key")).select_from(
        _ACCOUNT.outerjoin(_ISSUER, _ISSUER.c.id == _ACCOUNT.c.issuer_id)
    )
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query.order_by(_ACCOUNT.c.username)).mappings().all()
    grants: dict[int, list[str]] = {}
    for account_id, key in conn.execute(
        sa.select(_GRANT.c.account_id, _ISSUER.c.key)
        .join(_ISSUER, _ISSUER.c.id == _GRANT.c.issuer_id)
        .order_by(_ISSUER.c.key)
    ):
        grants.setdefault(int(account_id), []).append(key)
    return [
        AccountRecord(
            id=int(r["id"]),
            username=r["username"],
            display_name=r["display_name"],
            role=r["role"],
            issuer=r["issuer_key"],
            assessor=r["assessor_key"],
            sso_identity=r["sso_identity"],
            disabled=bool(r["disabled"]),
            has_password=r["password_hash"] is not None,
            grants=tuple(grants.get(int(r["id"]), ())),
            created_at=r["created_at"],
        )
        for r in rows
    ]


def find_account(
    *, engine: Engine, username: str | None = None, sso_identity: str | None = None
) -> AccountRecord | None:
    """The account with that user name (or single sign-on identity), if any."""
    where = (
        _ACCOUNT.c.username == username
        if username is not None
        else sa.func.lower(_ACCOUNT.c.sso_identity) == (sso_identity or "").lower()
    )
    with reading(engine) as conn:
        found = _records(conn, where)
    return found[0] if found else None


def list_accounts(*, engine: Engine) -> list[AccountRecord]:
    """Every account, by user name."""
    with reading(engine) as conn:
        return _records(conn)


def password_hash(*, engine: Engine, username: str) -> str | None:
    """The stored password hash of ``username`` (None: no such account or no password)."""
    with reading(engine) as conn:
        return conn.execute(
            sa.select(_ACCOUNT.c.password_hash).where(_ACCOUNT.c.username == username)
        ).scalar()


def create_account(
    *,
    engine: Engine,
    username: str,
    display_name: str,
    role: str,
    issuer: str | None,
    assessor: str | None,
    hashed: str | None,
    sso_identity: str | None,
    grants: tuple[str, ...],
    by: str,
    create_issuer: bool = False,
) -> AccountRecord:
    """Store a new account (and its board grants), audited.

    Raises
    ------
    StoreError
        The user name or single sign-on identity is taken; an unknown issuer (unless
        ``create_issuer``).
    """
    check_name(username, "username")
    with writing(engine) as conn:
        if conn.execute(sa.select(_ACCOUNT.c.id).where(_ACCOUNT.c.username == username)).first():
            raise StoreError(f"user name {username!r} is taken")
        if (
            sso_identity is not None
            and conn.execute(
                sa.select(_ACCOUNT.c.id).where(
                    sa.func.lower(_ACCOUNT.c.sso_identity) == sso_identity.lower()
                )
            ).first()
        ):
            raise StoreError(f"single sign-on identity {sso_identity!r} belongs to another account")
        owner = None if issuer is None else issuer_id(conn, issuer, create=create_issuer, by=by)
        new = int(
            conn.execute(
                _ACCOUNT.insert().returning(_ACCOUNT.c.id),
                {
                    "username": username,
                    "display_name": display_name,
                    "role": role,
                    "issuer_id": owner,
                    "assessor_key": assessor,
                    "password_hash": hashed,
                    "sso_identity": sso_identity,
                    "disabled": False,
                    "created_by": by,
                    "created_at": datetime.now(UTC),
                },
            ).scalar_one()
        )
        for key in grants:
            _grant(conn, new, key, by)
        append_event(
            conn,
            actor=by,
            action="account.create",
            issuer=issuer,
            subject=username,
            detail={
                "role": role,
                "assessor": assessor,
                "grants": list(grants),
                "sso": sso_identity,
            },
        )
        return _records(conn, _ACCOUNT.c.id == new)[0]


def _grant(conn: Connection, account: int, issuer: str, by: str) -> None:
    target = issuer_id(conn, issuer)
    exists = conn.execute(
        sa.select(_GRANT.c.id).where(_GRANT.c.account_id == account, _GRANT.c.issuer_id == target)
    ).first()
    if exists is None:
        conn.execute(
            _GRANT.insert(),
            {
                "account_id": account,
                "issuer_id": target,
                "granted_by": by,
                "granted_at": datetime.now(UTC),
            },
        )


def change_account(
    *,
    engine: Engine,
    username: str,
    by: str,
    action: str,
    issuer: str | None,
    reason: str | None = None,
    **values: Any,
) -> AccountRecord:
    """Change columns of an account (role, disabled, password hash...), audited as ``action``;
    disabling or changing the password or role ends the account's sessions.

    Raises
    ------
    StoreError
        No such account.
    """
    with writing(engine) as conn:
        found = conn.execute(
            sa.select(_ACCOUNT.c.id).where(_ACCOUNT.c.username == username)
        ).scalar()
        if found is None:
            raise StoreError(f"no account {username!r}")
        conn.execute(_ACCOUNT.update().where(_ACCOUNT.c.id == found).values(**values))
        if {"disabled", "password_hash", "role"} & set(values):
            conn.execute(
                _SESSION.update()
                .where(_SESSION.c.account_id == found, _SESSION.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        shown = {k: v for k, v in values.items() if k != "password_hash"}
        append_event(
            conn,
            actor=by,
            action=action,
            issuer=issuer,
            subject=username,
            detail={**shown, **({"reason": reason} if reason else {})},
        )
        return _records(conn, _ACCOUNT.c.id == found)[0]


def set_grant(
    *, engine: Engine, username: str, issuer: str, granted: bool, by: str
) -> AccountRecord:
    """Grant (or withdraw) a board reviewer's access to an issuer's aggregates, audited."""
    with writing(engine) as conn:
        found = conn.execute(
            sa.select(_ACCOUNT.c.id).where(_ACCOUNT.c.username == username)
        ).scalar()
        if found is None:
            raise StoreError(f"no account {username!r}")
        if granted:
            _grant(conn, int(found), issuer, by)
        else:
            conn.execute(
                _GRANT.delete().where(
                    _GRANT.c.account_id == found, _GRANT.c.issuer_id == issuer_id(conn, issuer)
                )
            )
        append_event(
            conn,
            actor=by,
            action="board.grant" if granted else "board.revoke",
            issuer=issuer,
            subject=username,
        )
        return _records(conn, _ACCOUNT.c.id == found)[0]


def record_attempt(*, engine: Engine, username: str, succeeded: bool) -> None:
    """Count a login attempt (the rate limit reads them back)."""
    with writing(engine) as conn:
        conn.execute(
            _ATTEMPT.insert(),
            {"username": username[:100], "at": datetime.now(UTC), "succeeded": succeeded},
        )


def failures_since(*, engine: Engine, username: str, since: datetime) -> list[datetime]:
    """Times of failed logins of ``username`` since ``since`` (after its last success)."""
    with reading(engine) as conn:
        last_ok = conn.execute(
            sa.select(sa.func.max(_ATTEMPT.c.at)).where(
                _ATTEMPT.c.username == username[:100], _ATTEMPT.c.succeeded.is_(True)
            )
        ).scalar()
        start = since if last_ok is None else max(since, _aware(last_ok))
        return [
            _aware(t)
            for t in conn.execute(
                sa.select(_ATTEMPT.c.at)
                .where(
                    _ATTEMPT.c.username == username[:100],
                    _ATTEMPT.c.succeeded.is_(False),
                    _ATTEMPT.c.at > start,
                )
                .order_by(_ATTEMPT.c.at)
            ).scalars()
        ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_session(*, engine: Engine, account_id: int, token_hash: str, expires_at: datetime) -> None:
    """Store a session (by its token's hash)."""
    with writing(engine) as conn:
        conn.execute(
            _SESSION.insert(),
            {
                "token_hash": token_hash,
                "account_id": account_id,
                "created_at": datetime.now(UTC),
                "expires_at": expires_at,
            },
        )


def session_account(*, engine: Engine, token_hash: str) -> tuple[AccountRecord, datetime] | None:
    """The account of a session that is neither revoked nor expired, with its expiry."""
    now = datetime.now(UTC)
    with reading(engine) as conn:
        row = conn.execute(
            sa.select(_SESSION.c.account_id, _SESSION.c.expires_at, _SESSION.c.revoked_at).where(
                _SESSION.c.token_hash == token_hash
            )
        ).first()
        if row is None or row[2] is not None or _aware(row[1]) <= now:
            return None
        found = _records(conn, _ACCOUNT.c.id == row[0])
    return (found[0], _aware(row[1])) if found else None


def close_session(*, engine: Engine, token_hash: str) -> None:
    """Revoke a session (logout)."""
    with writing(engine) as conn:
        conn.execute(
            _SESSION.update()
            .where(_SESSION.c.token_hash == token_hash, _SESSION.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
