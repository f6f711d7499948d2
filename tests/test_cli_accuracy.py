"""``calibrate accuracy``: a ratings CSV against anchor-set files, or the store; text and JSON;
one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibrate import store
from calibrate.access import Actor
from calibrate.anchors import load_anchor_set
from calibrate.rubric import load_rubric
from calibrate.services.demo import build_demo
from tests.conftest import ROOT, Result

Run = Callable[..., Result]
ANCHORS = ROOT / "anchor_sets" / "crsel-intro"
RUBRICS = ROOT / "rubrics"
ROW_KEYS = {
    "n",
    "n_anchors",
    "exact",
    "adjacent",
    "mean_deviation",
    "mean_deviation_se",
    "mean_deviation_ci",
    "mae",
    "qwk",
    "n_decisions",
    "decision_accuracy",
    "false_pass",
    "false_fail",
    "verdict",
}


@pytest.fixture
def scripted_csv(tmp_path: Path) -> Path:
    """Every crsel-intro anchor scored by three assessors: ``exact`` gives the expert score,
    ``lenient`` one level higher and ``harsh`` one level lower wherever the 1-3 scale allows."""
    rubric = load_rubric(RUBRICS / "crsel-intro.yaml")
    lines = ["submission,assessor,criterion,score"]
    for path in sorted(ANCHORS.glob("*.yaml")):
        for anchor in load_anchor_set(path, rubric).anchors:
            for c in rubric.criterion_ids:
                e = anchor.scores[c]
                for who, shift in (("exact", 0), ("lenient", 1), ("harsh", -1)):
                    lines.append(f"{anchor.id},{who},{c},{int(np.clip(e + shift, 1, 3))}")
    out = tmp_path / "anchors.csv"
    out.write_text("\n".join(lines) + "\n")
    return out


def test_json_per_assessor_criterion_and_overall(calibrate: Run, scripted_csv: Path) -> None:
    result = calibrate(
        "accuracy",
        str(scripted_csv),
        "--anchors",
        str(ANCHORS),
        "--rubric-dir",
        str(RUBRICS),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {
        "rubric",
        "anchor_sets",
        "contexts",
        "keep",
        "confidence",
        "assessors",
        "criteria",
        "assessor_criteria",
        "overall",
    }
    assert payload["rubric"] == "crsel-intro@1" and len(payload["anchor_sets"]) == 3
    assert payload["contexts"] == ["practice", "qualification", "validity"]
    assert payload["keep"] is None
    rows = {a["id"]: a for a in payload["assessors"]}
    assert set(rows) == {"exact", "harsh", "lenient"}
    assert all(set(r) == ROW_KEYS | {"id"} for r in rows.values())
    assert rows["exact"]["exact"] == 1.0 and rows["exact"]["decision_accuracy"] == 1.0
    assert rows["lenient"]["mean_deviation"] > 0 and rows["lenient"]["mean_deviation_ci"][0] > 0
    assert rows["harsh"]["mean_deviation"] < 0 and rows["harsh"]["mean_deviation_ci"][1] < 0
    assert [rows[k]["verdict"] for k in ("exact", "harsh", "lenient")] == [
        "in line",  # every rating the experts': the interval is [0, 0]
        "harsher",
        "more lenient",
    ]
    assert rows["lenient"]["false_pass"] > 0 and rows["harsh"]["false_fail"] > 0
    # Criteria: 5, each read by 3 assessors on 32 anchors; decisions do not apply (null).
    assert [c["n"] for c in payload["criteria"]] == [96] * 5
    assert all(c["decision_accuracy"] is None for c in payload["criteria"])
    cells = payload["assessor_criteria"]
    assert len(cells) == 15 and set(cells[0]) == ROW_KEYS | {"assessor", "criterion"}
    assert payload["overall"]["n"] == 480 and set(payload["overall"]) == ROW_KEYS


def test_text_output(calibrate: Run, scripted_csv: Path) -> None:
    result = calibrate(
        "accuracy", str(scripted_csv), "--anchors", str(ANCHORS), "--rubric-dir", str(RUBRICS)
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "accuracy against the anchors of crsel-intro@1" in out
    assert "480 ratings of 32 anchors by 3 assessors (practice, qualification, validity;" in out
    lenient = next(line for line in out.splitlines() if line.strip().startswith("lenient"))
    assert " +0." in lenient
    assert "negative = harsher than the experts" in out


def test_one_anchor_set_file_and_the_default_rubric_folder(
    calibrate: Run, scripted_csv: Path
) -> None:
    validity = ANCHORS / "validity.yaml"
    ids = [
        a.id for a in load_anchor_set(validity, load_rubric(RUBRICS / "crsel-intro.yaml")).anchors
    ]
    lines = scripted_csv.read_text().splitlines()
    subset = scripted_csv.with_name("validity.csv")
    subset.write_text(
        "\n".join([lines[0], *(x for x in lines[1:] if x.split(",")[0] in ids)]) + "\n"
    )
    result = calibrate("accuracy", str(subset), "--anchors", str(validity), "--json", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["overall"]["n_anchors"] == len(ids)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("crsel-q99,exact,reflection,2", "not anchors of"),
        ("crsel-q01,exact,tone,2", "unknown criterion for crsel-intro@1: tone"),
    ],
)
def test_bad_ratings_give_one_line(
    calibrate: Run, scripted_csv: Path, row: str, message: str
) -> None:
    scripted_csv.write_text(scripted_csv.read_text() + row + "\n")
    result = calibrate(
        "accuracy", str(scripted_csv), "--anchors", str(ANCHORS), "--rubric-dir", str(RUBRICS)
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give RATINGS.csv --anchors ANCHOR_SET, or --rubric ID"),
        (("ratings.csv",), "needs --anchors"),
        (("ratings.csv", "--anchors", "a", "--rubric", "x"), "--rubric is for the store"),
        (("--anchors", "a", "--rubric", "x"), "--anchors goes with RATINGS.csv"),
    ],
)
def test_misused_options_give_one_line(calibrate: Run, args: tuple[str, ...], message: str) -> None:
    result = calibrate("accuracy", *args)
    assert result.returncode == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The URL of a store holding the classroom demo (seed 2026) and its folder of files."""
    folder = tmp_path_factory.mktemp("accuracy")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)
    build_demo(
        engine=engine,
        out=folder / "demo",
        size="classroom",
        workflow=False,
        seed=2026,
        actor=Actor.operator(),
    )
    engine.dispose()
    return url, folder / "demo"


def test_the_store(calibrate: Run, demo: tuple[str, Path]) -> None:
    url, files = demo
    from_store = calibrate("accuracy", "--database", url, "--rubric", "crsel-intro", "--json")
    assert from_store.returncode == 0, from_store.stderr
    from_file = calibrate(
        "accuracy",
        str(files / "ratings.csv"),
        "--anchors",
        str(ANCHORS),
        "--rubric-dir",
        str(RUBRICS),
        "--json",
    )
    assert json.loads(from_store.stdout) == json.loads(from_file.stdout)
    text = calibrate("accuracy", "--database", url, "--rubric", "crsel-intro@1")
    assert text.returncode == 0 and text.stdout.startswith("store: accuracy against the anchors")
    unknown = calibrate("accuracy", "--database", url, "--rubric", "nope")
    assert unknown.returncode == 1 and "not in the store" in unknown.stderr


@pytest.fixture
def retaken_csv(scripted_csv: Path) -> Path:
    """The scripted ratings as qualification ratings, plus a practice round and a retake: the
    ``harsh`` assessor first reads every anchor in practice one level low (where the scale
    allows), then twice in qualification: in round harsh-q1 as scripted, in harsh-q2 as the experts
    do (a second reading of each cell)."""
    lines = scripted_csv.read_text().splitlines()
    rows = [f"{line},qualification,{line.split(',')[1]}-q1,2026-01-02" for line in lines[1:]]
    practice = []
    for line in lines[1:]:
        anchor, who, criterion, score = line.split(",")
        if who == "exact":
            low = max(int(score) - 1, 1)
            practice.append(f"{anchor},harsh,{criterion},{low},practice,harsh-p1,2026-01-01")
            rows.append(f"{anchor},harsh,{criterion},{score},qualification,harsh-q2,2026-01-03")
    out = scripted_csv.with_name("retaken.csv")
    out.write_text(
        "\n".join(["submission,assessor,criterion,score,context,round,timestamp", *practice, *rows])
        + "\n"
    )
    return out


def _accuracy(calibrate: Run, source: Path, *args: str) -> dict[str, Any]:
    result = calibrate(
        "accuracy", str(source), "--anchors", str(ANCHORS), "--rubric-dir", str(RUBRICS),
        "--json", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_context_and_keep_on_a_file(calibrate: Run, retaken_csv: Path) -> None:
    # Hand count: 32 anchors x 5 criteria = 160 cells per reading. In practice, harsh reads one
    # level low wherever the expert score is above 1; in qualification, harsh reads one level
    # low first (the scripted rows) and then exactly as the experts (the retake).
    rubric = load_rubric(RUBRICS / "crsel-intro.yaml")
    expert = [
        a.scores[c]
        for path in sorted(ANCHORS.glob("*.yaml"))
        for a in load_anchor_set(path, rubric).anchors
        for c in rubric.criterion_ids
    ]
    at_floor = sum(e == 1 for e in expert)
    assert len(expert) == 160

    practice = _accuracy(calibrate, retaken_csv, "--context", "Practice")
    assert practice["contexts"] == ["practice"]
    (only,) = practice["assessors"]
    assert only["id"] == "harsh" and only["n"] == 160
    assert only["exact"] == pytest.approx(at_floor / 160)

    every = _accuracy(calibrate, retaken_csv, "--context", "qualification")
    rows = {r["id"]: r for r in every["assessors"]}
    assert rows["harsh"]["n"] == 320 and rows["exact"]["n"] == 160  # both readings count
    assert rows["harsh"]["exact"] == pytest.approx((at_floor + 160) / 320)

    first = _accuracy(calibrate, retaken_csv, "--context", "qualification", "--keep", "first")
    last = _accuracy(calibrate, retaken_csv, "--context", "qualification", "--keep", "last")
    assert first["keep"] == "first" and last["keep"] == "last"
    first_harsh = {r["id"]: r for r in first["assessors"]}["harsh"]
    last_harsh = {r["id"]: r for r in last["assessors"]}["harsh"]
    assert first_harsh["n"] == last_harsh["n"] == 160
    assert first_harsh["exact"] == pytest.approx(at_floor / 160)
    assert last_harsh["exact"] == 1.0 and last_harsh["mean_deviation"] == 0.0

    # Without --context every anchor context counts: practice + qualification readings.
    pooled = {r["id"]: r for r in _accuracy(calibrate, retaken_csv)["assessors"]}
    assert pooled["harsh"]["n"] == 480
    # --keep first across contexts: the practice reading (the earliest timestamp) counts.
    earliest = _accuracy(calibrate, retaken_csv, "--keep", "first")["assessors"]
    assert {r["id"]: r for r in earliest}["harsh"]["exact"] == pytest.approx(at_floor / 160)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--keep", "both"), "keep must be 'first' or 'last', not 'both'"),
        (("--context", "live"), "accuracy compares ratings of anchors"),
        (("--context", "rehearsal"), "unknown context 'rehearsal' (one of practice, qualif"),
    ],
)
def test_bad_context_or_keep_give_one_line(
    calibrate: Run,
    demo: tuple[str, Path],
    retaken_csv: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    url = demo[0]
    on_file = calibrate(
        "accuracy", str(retaken_csv), "--anchors", str(ANCHORS), "--rubric-dir", str(RUBRICS),
        *args,
    )  # fmt: skip
    on_store = calibrate("accuracy", "--database", url, "--rubric", "crsel-intro", *args)
    for result in (on_file, on_store):
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and message in result.stderr


def test_context_and_keep_on_the_store(calibrate: Run, demo: tuple[str, Path]) -> None:
    url, files = demo
    for args in (("--context", "qualification", "--keep", "last"), ("--context", "validity")):
        from_store = calibrate(
            "accuracy", "--database", url, "--rubric", "crsel-intro", "--json", *args
        )
        assert from_store.returncode == 0, from_store.stderr
        payload = json.loads(from_store.stdout)
        assert payload == _accuracy(calibrate, files / "ratings.csv", *args)
        assert payload["contexts"] == [args[1]]
    every = calibrate("accuracy", "--database", url, "--rubric", "crsel-intro", "--json")
    assert json.loads(every.stdout)["overall"]["n"] > payload["overall"]["n"]
