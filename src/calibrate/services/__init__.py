"""Services: one function per job, called by every door (CLI, dashboard, reports).

The only layer that combines the store with the use cases over ratings, and the place where role
checks sit: a door opens the store (:func:`connected`), calls one service and shows its typed
result, so the doors never diverge.

- :mod:`~calibrate.services.connection`: open the store, its status
- :mod:`~calibrate.services.definitions`: rubrics and anchor sets
- :mod:`~calibrate.services.ratings`: rating imports, corrections, history
- :mod:`~calibrate.services.analyses`: agreement, rater effects, reliability, accuracy
- :mod:`~calibrate.services.rules`: the programme rules in force
- :mod:`~calibrate.services.demo`: simulated programmes and the demo
- :mod:`~calibrate.services.accounts`: accounts, logins, sessions, board grants
- :mod:`~calibrate.services.audit`: the audit log and ``verify``
- :mod:`~calibrate.services.calibration`: practice on anchors, qualification rounds
- :mod:`~calibrate.services.queue`: live scoring queue, final results, adjudication, suspensions
- :mod:`~calibrate.services.monitoring`: consistency across attempts, assessor flags, the rubric
  audit
- :mod:`~calibrate.services.drift`: drift of assessors and of the pool over time
- :mod:`~calibrate.services.exports`: CSV exports, spreadsheet formulas neutralised
- :mod:`~calibrate.services.session_file`: the CLI's saved login and acting account

Every function that touches the store takes the acting account (``actor``,
:class:`calibrate.access.Actor`) and checks it (:func:`calibrate.access.require`) before it
reads or writes, and returns only what that account may see.

Each name is imported from its module on first use (:pep:`562`), so a command loads only what
its job needs: an analysis of a file never imports the store (SQLAlchemy, SQLModel, Alembic).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calibrate.services.accounts import (
        Login,
        add_account,
        create_first_admin,
        grant_board,
        login,
        logout,
        managed_accounts,
        session_actor,
        set_disabled,
        set_password,
        set_role,
        sso_login,
    )
    from calibrate.services.analyses import (
        Agreement,
        accuracy_from_files,
        agreement,
        rater_effects,
        reliability,
        repeated_readings,
        select_ratings,
        stored_accuracy,
        stored_selection,
    )
    from calibrate.services.audit import audit_log, verify
    from calibrate.services.calibration import (
        my_history,
        practice_feedback,
        practice_next,
        practice_score,
        practice_view,
        qualification,
        qualifications,
        round_result,
        round_score,
        round_start,
        round_view,
    )
    from calibrate.services.connection import connected, open_store, store_status
    from calibrate.services.definitions import import_definitions, rubrics, validate_definitions
    from calibrate.services.demo import build_demo, simulate, simulate_demo, store_demo
    from calibrate.services.drift import drift_report
    from calibrate.services.exports import export_ratings
    from calibrate.services.monitoring import (
        assessor_flags,
        attempt_consistency,
        audit_rubric,
        flags_from_files,
    )
    from calibrate.services.queue import (
        add_submission,
        adjudicate,
        adjudications,
        queue_next,
        queue_release,
        queue_score,
        queue_view,
        reinstate,
        results,
        suspend,
        suspend_flagged,
        suspensions,
    )
    from calibrate.services.ratings import correct, history, import_ratings, my_ratings
    from calibrate.services.rules import programme_rules

__all__ = [
    "Agreement",
    "Login",
    "accuracy_from_files",
    "add_account",
    "add_submission",
    "adjudicate",
    "adjudications",
    "agreement",
    "assessor_flags",
    "attempt_consistency",
    "audit_log",
    "audit_rubric",
    "build_demo",
    "connected",
    "correct",
    "create_first_admin",
    "drift_report",
    "export_ratings",
    "flags_from_files",
    "grant_board",
    "history",
    "import_definitions",
    "import_ratings",
    "login",
    "logout",
    "managed_accounts",
    "my_history",
    "my_ratings",
    "open_store",
    "practice_feedback",
    "practice_next",
    "practice_score",
    "practice_view",
    "programme_rules",
    "qualification",
    "qualifications",
    "queue_next",
    "queue_release",
    "queue_score",
    "queue_view",
    "rater_effects",
    "reinstate",
    "reliability",
    "repeated_readings",
    "results",
    "round_result",
    "round_score",
    "round_start",
    "round_view",
    "rubrics",
    "select_ratings",
    "session_actor",
    "set_disabled",
    "set_password",
    "set_role",
    "simulate",
    "simulate_demo",
    "sso_login",
    "store_demo",
    "store_status",
    "stored_accuracy",
    "stored_selection",
    "suspend",
    "suspend_flagged",
    "suspensions",
    "validate_definitions",
    "verify",
]

_MODULE_OF = {
    **dict.fromkeys(
        (
            "Agreement",
            "accuracy_from_files",
            "agreement",
            "rater_effects",
            "reliability",
            "repeated_readings",
            "select_ratings",
            "stored_accuracy",
            "stored_selection",
        ),
        "analyses",
    ),
    **dict.fromkeys(("connected", "open_store", "store_status"), "connection"),
    **dict.fromkeys(("import_definitions", "rubrics", "validate_definitions"), "definitions"),
    **dict.fromkeys(("build_demo", "simulate", "simulate_demo", "store_demo"), "demo"),
    **dict.fromkeys(("correct", "history", "import_ratings", "my_ratings"), "ratings"),
    **dict.fromkeys(
        (
            "Login",
            "add_account",
            "create_first_admin",
            "grant_board",
            "login",
            "logout",
            "managed_accounts",
            "session_actor",
            "set_disabled",
            "set_password",
            "set_role",
            "sso_login",
        ),
        "accounts",
    ),
    **dict.fromkeys(("audit_log", "verify"), "audit"),
    **dict.fromkeys(
        (
            "my_history",
            "practice_feedback",
            "practice_next",
            "practice_score",
            "practice_view",
            "qualification",
            "qualifications",
            "round_result",
            "round_score",
            "round_start",
            "round_view",
        ),
        "calibration",
    ),
    **dict.fromkeys(
        (
            "add_submission",
            "adjudicate",
            "adjudications",
            "queue_next",
            "queue_release",
            "queue_score",
            "queue_view",
            "reinstate",
            "results",
            "suspend",
            "suspend_flagged",
            "suspensions",
        ),
        "queue",
    ),
    "attempt_consistency": "monitoring",
    "audit_rubric": "monitoring",
    "assessor_flags": "monitoring",
    "flags_from_files": "monitoring",
    "drift_report": "drift",
    "export_ratings": "exports",
    "programme_rules": "rules",
}
"""The module of each exported name."""


def __getattr__(name: str) -> object:
    """Import an exported name from its module on first use, then keep it here."""
    try:
        module = _MODULE_OF[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
