"""Checks of the values that reach the store other than through a parsed file (who records a
rating, why, which rating), the same on every database: one rule, one clear refusal, instead of
SQLite storing what PostgreSQL refuses with a traceback."""

from __future__ import annotations

import re

from calibrate.errors import StoreError

MAX_NAME_LENGTH = 100  # characters of recorded_by / imported_by: the width of their columns
MAX_ID = 2**31 - 1  # rating ids: the id column is a 32-bit integer on PostgreSQL
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 control characters
_SHA256 = re.compile("(?:[0-9a-f]{64})?")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # the same, newline and tab allowed


def name_problem(value: object, what: str) -> str | None:
    """Why ``value`` cannot be a name or key (None if it can): not text, empty, longer than
    :data:`MAX_NAME_LENGTH` characters, or holding a control character."""
    if not isinstance(value, str):
        return f"{what} must be text, not {type(value).__name__}"
    if not value.strip():
        return f"{what} is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"{what} is {len(value):,} characters long (at most {MAX_NAME_LENGTH})"
    control = _CONTROL.search(value)
    if control is not None:
        return f"{what} contains the control character U+{ord(control.group()):04X}"
    return None


def check_name(value: object, what: str) -> str:
    """``value`` if it can be stored as who did something (see :func:`name_problem`).

    Raises
    ------
    StoreError
        It cannot.
    """
    reason = name_problem(value, what)
    if reason is not None:
        raise StoreError(reason)
    assert isinstance(value, str)
    return value


def check_reason(value: object) -> str:
    """The reason of a correction: text, not empty or only whitespace, no control character
    other than newline and tab.

    Raises
    ------
    StoreError
        It is not.
    """
    if not isinstance(value, str) or not value.strip():
        raise StoreError("a correction needs a reason: say why the score changes")
    control = _CONTROL_IN_TEXT.search(value)
    if control is not None:
        raise StoreError(f"the reason contains the control character U+{ord(control.group()):04X}")
    return value


def check_sha256(value: object) -> str:
    """The SHA-256 of an imported file: empty (not known) or 64 hexadecimal digits.

    Raises
    ------
    StoreError
        It is neither.
    """
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise StoreError(f"sha256 must be 64 hexadecimal digits (or empty), not {value!r:.80}")
    return value


def check_rating_id(rating_id: object) -> int:
    """A rating id the store can hold: a whole number 1..2**31 - 1 (:data:`MAX_ID`, the id
    column's range on PostgreSQL; SQLite's is wider, the rule is one).

    Raises
    ------
    StoreError
        ``no rating with id ...``: no rating can have it.
    """
    if isinstance(rating_id, bool) or not isinstance(rating_id, int):
        raise StoreError(f"no rating with id {rating_id!r}: rating ids are whole numbers")
    if not 1 <= rating_id <= MAX_ID:
        raise StoreError(f"no rating with id {rating_id} (rating ids are 1..{MAX_ID})")
    return rating_id
