"""``calibrate rules``: the programme rules in force, as text and JSON, from the same table the
docs and the dashboard show (calibrate.rules.RULES)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from calibrate import store
from calibrate.rules import RULES
from tests.conftest import ROOT, Result

Run = Callable[..., Result]


def test_programme_rules_as_json(calibrate: Run) -> None:
    result = calibrate("rules", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["rubric"] is None and shown["levels"] is None
    assert [r["name"] for r in shown["rules"]] == [r.name for r in RULES]
    by_name = {r["name"]: r for r in shown["rules"]}
    # NAEP's exact-agreement standard depends on the scale: unresolved without a rubric.
    assert by_name["qualification.min_exact"]["value"] is None
    assert by_name["flags.bias_t"]["value"] == 2.0 and by_name["flags.bias_t"]["source"]


def test_rules_of_a_stored_rubric_with_an_overrides_file(
    calibrate: Run, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    store.import_definition_dirs(ROOT / "rubrics", None, engine=engine)
    overrides = tmp_path / "rules.yaml"
    overrides.write_text("rubrics:\n  crsel-intro:\n    live.double_share: 0.1\n")
    result = calibrate(
        "rules", "--rubric", "crsel-intro", "--overrides", str(overrides), "--json", db=db_url
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["rubric"] == "crsel-intro@1" and shown["levels"] == 3
    by_name = {r["name"]: r for r in shown["rules"]}
    assert by_name["qualification.min_exact"]["value"] == 0.8  # NAEP: 3 levels
    assert by_name["live.double_share"]["value"] == 0.1
    assert by_name["live.double_share"]["overridden"] is True
    text = calibrate("rules", "--rubric", "crsel-intro", "--overrides", str(overrides), db=db_url)
    assert text.stdout.startswith("programme rules for crsel-intro@1 (3 levels)")
    assert "live.double_share" in text.stdout and "0.1 *" in text.stdout


def test_a_bad_overrides_file_is_one_clear_error(calibrate: Run, tmp_path: Path) -> None:
    overrides = tmp_path / "rules.yaml"
    overrides.write_text("live.double_share: 2\n")
    result = calibrate("rules", "--overrides", str(overrides))
    assert result.returncode == 1 and result.stdout == ""
    assert "live.double_share" in result.stderr and "Traceback" not in result.stderr
    assert "nothing was written" not in result.stderr  # rules writes nothing


def test_rules_of_an_unknown_rubric_is_one_clear_error(
    calibrate: Run, engine: Engine, db_url: str
) -> None:
    store.import_definition_dirs(ROOT / "rubrics", None, engine=engine)
    result = calibrate("rules", "--rubric", "nope", db=db_url)
    assert result.returncode == 1 and result.stdout == ""
    assert "rubric 'nope' is not in the store" in result.stderr
    assert result.stderr.count("\n") == 1
