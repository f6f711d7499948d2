"""Who may do what: the roles, the acting account, and the permission table (data).

Every service takes the acting account (:class:`Actor`) and checks it with :func:`require`
before it reads or writes, so the CLI, the dashboard and the Python API obey the same rules; the
doors never filter secrets themselves. The table is data (:data:`PERMISSIONS`, with help text),
printed in SECURITY.md and checked by a test.

Roles (:data:`ROLES`):

- ``assessor``: scores; sees their own ratings and results, never an answer key before scoring,
  never which submissions are validity anchors;
- ``lead``: lead assessor of an issuer; adjudicates, writes rationales, reads the issuer's ratings
  and answer keys;
- ``admin``: issuer administrator; everything of their issuer, including its accounts;
- ``board``: state board reviewer; read-only aggregates with pseudonymised identifiers, for the
  issuers that granted them access;
- ``operator``: not an account but whoever holds the database's credentials (the CLI without a
  login): they can read and change the database directly anyway, so calibrate lets them act and
  records their actions as ``operator:<user>@<host>``.

Pseudonyms (:func:`pseudonym`) are keyed hashes (HMAC-SHA-256 with the store's secret): stable
within a store, so a board can follow one assessor across analyses, and not reversible without
the secret.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import socket
from dataclasses import dataclass, field
from typing import Literal

from calibrate.errors import AccessDenied

Role = Literal["assessor", "lead", "admin", "board", "operator"]
AccountRole = Literal["assessor", "lead", "admin", "board"]

ROLES: dict[AccountRole, str] = {
    "assessor": "Scores submissions and calibration anchors; sees only their own ratings and "
    "results.",
    "lead": "Lead assessor: adjudicates discrepant scores and writes rationales; reads the "
    "issuer's ratings and answer keys.",
    "admin": "Issuer administrator: the issuer's rubrics, anchor sets, ratings, accounts and "
    "audit log.",
    "board": "State board reviewer: read-only aggregates with pseudonymised assessors and "
    "earners, for the issuers that granted access.",
}
"""The account roles, with a sentence each (the CLI's help, the accounts page, SECURITY.md)."""

Action = Literal[
    "rubrics.read",
    "definitions.import",
    "answer_key.read",
    "ratings.import",
    "ratings.read",
    "ratings.correct",
    "ratings.export",
    "own_ratings.read",
    "analyses.read",
    "accuracy.read",
    "accounts.manage",
    "audit.read",
    "store.verify",
    "demo.build",
    "calibration.take",
    "queue.score",
    "adjudication.resolve",
    "submissions.add",
    "workflow.manage",
]


@dataclass(frozen=True)
class Permission:
    """Which roles may take an action, and what it means."""

    roles: frozenset[Role]
    help: str


def _p(roles: str, help: str) -> Permission:
    return Permission(frozenset(roles.split()), help)  # type: ignore[arg-type]


PERMISSIONS: dict[Action, Permission] = {
    "rubrics.read": _p(
        "assessor lead admin board operator",
        "Read rubric versions (criteria, levels, descriptors).",
    ),
    "definitions.import": _p("admin operator", "Import rubric versions and anchor sets."),
    "answer_key.read": _p(
        "lead admin operator",
        "Read anchors' expert scores and rationales, and which anchors are validity anchors.",
    ),
    "ratings.import": _p("admin operator", "Import ratings from a scoring platform's file."),
    "ratings.read": _p(
        "lead admin operator", "Read individual ratings with assessor and earner identifiers."
    ),
    "ratings.correct": _p("lead admin operator", "Record a corrected score (a new revision)."),
    "ratings.export": _p("admin operator", "Export ratings as CSV."),
    "own_ratings.read": _p("assessor lead", "Read one's own ratings and results."),
    "analyses.read": _p(
        "lead admin board operator",
        "Read agreement, rater effects and reliability (a board sees pseudonyms only).",
    ),
    "accuracy.read": _p(
        "lead admin board operator",
        "Read assessors' accuracy against the experts' scores of anchors (a board sees "
        "pseudonyms).",
    ),
    "accounts.manage": _p(
        "admin operator", "Add, disable and re-role accounts (an administrator: of their issuer)."
    ),
    "audit.read": _p("admin board operator", "Read the audit log."),
    "store.verify": _p("admin board operator", "Check the store's integrity (calibrate verify)."),
    "demo.build": _p("operator", "Build the demo programme into a store."),
    "calibration.take": _p(
        "assessor lead",
        "Practise on anchors and take qualification rounds (one's own; the answer key of an "
        "anchor only after scoring it).",
    ),
    "queue.score": _p(
        "assessor lead", "Score live submissions from one's own queue (once qualified)."
    ),
    "adjudication.resolve": _p(
        "lead", "Resolve discrepant double scores of the issuer's submissions (third reading)."
    ),
    "submissions.add": _p("admin operator", "Enter submissions for live scoring."),
    "workflow.manage": _p(
        "admin operator",
        "See the issuer's qualifications, queues and results; suspend and reinstate assessors.",
    ),
}
"""What each role may do. Scope comes on top: an administrator or lead acts within their issuer,
a board reviewer within the issuers that granted them, an assessor on their own ratings."""


@dataclass(frozen=True)
class Actor:
    """The account a service acts for.

    Attributes
    ----------
    name : str
        Recorded as who did something (``alice``, ``operator:root@host``).
    role : Role
    issuer : str or None
        The issuer key of an assessor, lead or administrator.
    assessor : str or None
        The assessor key in ratings of an assessor or lead (their own ratings).
    grants : frozenset of str
        The issuer keys whose data a board reviewer may see.
    account_id : int or None
        None for the operator.
    """

    name: str
    role: Role
    issuer: str | None = None
    assessor: str | None = None
    grants: frozenset[str] = field(default_factory=frozenset)
    account_id: int | None = None

    @classmethod
    def operator(cls, who: str | None = None) -> Actor:
        """Whoever holds the database's credentials, named by their login and machine."""
        if who is None:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):  # no name for the uid (containers)
                user = "unknown"
            who = f"{user}@{socket.gethostname()}"
        return cls(name=f"operator:{who}", role="operator")

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may(self, action: Action) -> bool:
        """Whether the role allows ``action`` at all (scope aside)."""
        return self.role in PERMISSIONS[action].roles

    def sees_issuer(self, issuer: str) -> bool:
        """Whether ``issuer``'s data lies in this account's scope."""
        if self.role == "operator":
            return True
        if self.role == "board":
            return issuer in self.grants
        return issuer == self.issuer

    @property
    def issuers(self) -> frozenset[str] | None:
        """The issuers in scope (None: all, for the operator)."""
        if self.role == "operator":
            return None
        if self.role == "board":
            return self.grants
        return frozenset(() if self.issuer is None else (self.issuer,))

    @property
    def pseudonymous(self) -> bool:
        """Whether identifiers reach this account as pseudonyms (a board reviewer)."""
        return self.role == "board"


def require(actor: Actor, action: Action, *, issuer: str | None = None) -> None:
    """Refuse ``action`` unless the role allows it and ``issuer`` (when given) is in scope.

    Raises
    ------
    AccessDenied
        With the rule broken, never with what the refused data holds.
    """
    if not actor.may(action):
        allowed = ", ".join(sorted(r for r in PERMISSIONS[action].roles))
        what = PERMISSIONS[action].help.split(" (")[0].rstrip(".")
        raise AccessDenied(
            f"{actor.name} ({actor.role}) may not {what[0].lower()}{what[1:]}: only {allowed}"
        )
    if issuer is not None and not actor.sees_issuer(issuer):
        raise AccessDenied(f"{actor.name} ({actor.role}) has no access to issuer {issuer!r}")


def pseudonym(secret: bytes, kind: Literal["assessor", "earner", "submission"], key: str) -> str:
    """A stable pseudonym for an identifier: ``A-``/``E-``/``S-`` and 10 hex digits of
    HMAC-SHA-256(secret, kind:key) (RFC 2104)."""
    digest = hmac.new(secret, f"{kind}:{key}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0].upper()}-{digest[:10]}"
