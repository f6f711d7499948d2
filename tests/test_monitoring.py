"""Monitoring services on a stored programme (issue 12): consistency across earners' attempts,
through the Python API and the CLI, with its role rules (assessors refused, another issuer's
rubric unknown, a board reviewer sees pseudonyms only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.cli import _json_safe
from calibrate.errors import AccessDenied, CalibrateError
from calibrate.services.demo import DEMO_PASSWORD
from tests.conftest import OPERATOR, Result

RUBRIC = "ct-unplugged@1"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """The classroom demo with its current term played through the workflow (SQLite)."""
    folder = tmp_path_factory.mktemp("monitoring")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)
    services.build_demo(engine=engine, actor=OPERATOR, out=folder / "demo", size="classroom",
                        seed=2026)  # fmt: skip
    yield url, engine
    engine.dispose()


def as_(engine: Engine, username: str) -> Actor:
    return services.login(username, DEMO_PASSWORD, engine=engine).actor


def test_attempts_report_the_stored_programme(demo: tuple[str, Engine]) -> None:
    _, engine = demo
    report = services.attempt_consistency(engine=engine, actor=OPERATOR, rubric=RUBRIC)
    live = store.load_ratings(engine=engine, rubric=RUBRIC, contexts=["live"])
    known = {u for u, e, a in zip(live.unit, live.columns["earner"], live.columns["attempt"],
                                  strict=True) if e and a}  # fmt: skip
    assert report.n_submissions == len(known)
    assert report.n_resubmissions > 0 and report.pass_rates[0].attempt == "1"
    # the workflow's decisions decide what they decided
    decided = [r for r in services.results(engine=engine, actor=OPERATOR, rubric=RUBRIC)
               if r["result"] is not None]  # fmt: skip
    assert report.n_from_results == len(decided) > 0
    assert report.calibration is not None and report.calibration.rounds
    assert json.loads(json.dumps(report.to_dict()))["rubric"] == RUBRIC


def test_attempts_keep_to_roles(demo: tuple[str, Engine]) -> None:
    _, engine = demo
    with pytest.raises(AccessDenied):
        services.attempt_consistency(
            engine=engine, actor=as_(engine, "demo-assessor"), rubric=RUBRIC
        )
    stranger = Actor("elsewhere-admin", "admin", issuer="elsewhere")
    with pytest.raises(CalibrateError, match="not in the store"):
        services.attempt_consistency(engine=engine, actor=stranger, rubric=RUBRIC)
    admin = services.attempt_consistency(
        engine=engine, actor=as_(engine, "demo-admin"), rubric=RUBRIC
    )
    board = services.attempt_consistency(
        engine=engine, actor=as_(engine, "demo-board"), rubric=RUBRIC
    )
    assert board.n_submissions == admin.n_submissions  # the same aggregates
    names = {a.assessor for a in admin.leniency.assessors}
    hidden = {a.assessor for a in board.leniency.assessors}
    assert names and all(n.startswith("A0") for n in names)
    assert hidden and all(h.startswith("A-") for h in hidden) and not names & hidden
    text = json.dumps(board.to_dict())
    assert not any(n in text for n in names)


def test_attempts_on_the_command_line(
    demo: tuple[str, Engine], calibrate: Callable[..., Result]
) -> None:
    url, engine = demo
    out = calibrate("attempts", "--rubric", RUBRIC, "--json", db=url)
    assert out.returncode == 0, out.stderr
    expected = services.attempt_consistency(engine=engine, actor=OPERATOR, rubric=RUBRIC)
    assert json.loads(out.stdout) == json.loads(json.dumps(expected.to_dict()))
    text = calibrate("attempts", "--rubric", RUBRIC, db=url)
    assert text.returncode == 0, text.stderr
    assert expected.pass_rates[0].sentence in text.stdout
    assert expected.continuity.sentence in text.stdout
    unknown = calibrate("attempts", "--rubric", "no-such-rubric", db=url)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr


def test_attempts_without_earners_say_so(tmp_path: Path, calibrate: Callable[..., Result]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = store.open_store(url)
    services.import_definitions(
        Path(__file__).resolve().parents[1] / "rubrics", engine=engine, actor=OPERATOR
    )
    ratings = tmp_path / "r.csv"
    ratings.write_text(
        "submission,assessor,criterion,score\n"
        + "".join(f"s{i},A{j},ct-content-link,{1 + (i + j) % 3}\n" for i in range(4)
                  for j in range(2)),
        encoding="utf-8",
    )  # fmt: skip
    services.import_ratings(ratings, engine=engine, actor=OPERATOR, rubric=RUBRIC)
    engine.dispose()
    out = calibrate("attempts", "--rubric", RUBRIC, db=url)
    assert out.returncode == 1
    assert "says its earner and attempt number" in out.stderr and "Traceback" not in out.stderr


def test_attempts_page_shows_the_service_report(
    demo: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AppTest: the page's tables and sentences are the service's, for the administrator and
    for the board reviewer (pseudonyms only)."""
    from tests.test_dashboard_pages import open_page

    url, engine = demo
    at = open_page(monkeypatch, url, "attempts")
    assert not at.exception, at.exception
    assert at.title[0].value == "Attempts"
    at.selectbox(key="attempts_rubric").select(RUBRIC).run()
    assert not at.exception, at.exception
    report = services.attempt_consistency(
        engine=engine, actor=as_(engine, "demo-admin"), rubric=RUBRIC
    )
    rates = at.dataframe[0].value  # the first table: pass rate by attempt
    assert list(rates["passed"]) == [r.n_passed for r in report.pass_rates]
    assert list(rates["low"]) == [f"{r.pass_rate.interval.low:.0%}" for r in report.pass_rates]
    # nothing to compare attempt 1 with: an en dash, not "None"
    assert report.pass_rates[0].vs_first is None and rates["vs attempt 1"].iloc[0] == "–"
    shown = " ".join(m.value for m in at.markdown).replace("\\", "")  # Markdown escapes
    assert report.continuity.sentence in shown and report.leniency.sentence in shown

    board = open_page(monkeypatch, url, "attempts", user="demo-board")
    board.selectbox(key="attempts_rubric").select(RUBRIC).run()
    assert not board.exception, board.exception
    names = {a.assessor for a in report.leniency.assessors}
    text = " ".join(m.value for m in board.markdown) + str(
        [d.value.to_dict() for d in board.dataframe]
    )
    assert names and not any(n in text for n in names)


def test_rubric_audit_through_the_api_the_cli_and_the_page(
    demo: tuple[str, Engine],
    calibrate: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.test_dashboard_pages import open_page

    url, engine = demo
    with pytest.raises(AccessDenied):
        services.audit_rubric(engine=engine, actor=as_(engine, "demo-assessor"), rubric=RUBRIC)
    audit = services.audit_rubric(engine=engine, actor=OPERATOR, rubric=RUBRIC, n_boot=200)
    again = services.audit_rubric(engine=engine, actor=OPERATOR, rubric=RUBRIC, n_boot=200)
    assert audit.to_dict() == again.to_dict()  # the same seed, the same intervals
    assert audit.findings and {f.kind for f in audit.findings} >= {"reliability", "level_usage"}
    for f in audit.findings:  # every verdict follows its interval where it has one
        if f.interval is not None and f.threshold is not None and f.verdict in ("below standard",):
            assert f.interval.high < f.threshold

    out = calibrate("audit-rubric", "--rubric", RUBRIC, "--bootstrap", "200", "--json", db=url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(json.dumps(audit.to_dict()))
    text = calibrate("audit-rubric", "--rubric", RUBRIC, "--bootstrap", "200", "--all", db=url)
    assert text.returncode == 0 and all(f.sentence in text.stdout for f in audit.findings)

    at = open_page(monkeypatch, url, "rubric-audit")
    at.selectbox(key="audit_rubric").select(RUBRIC).run()
    assert not at.exception, at.exception
    page = services.audit_rubric(engine=engine, actor=as_(engine, "demo-admin"), rubric=RUBRIC)
    shown = " ".join(m.value for m in at.markdown).replace("\\", "")
    assert all(f.sentence in shown for f in page.concerns())
    assert [m.value for m in at.metric][:2] == [str(len(page.findings)), str(len(page.concerns()))]


def test_flags_through_the_api_and_the_cli(
    demo: tuple[str, Engine], calibrate: Callable[..., Result]
) -> None:
    url, engine = demo
    with pytest.raises(AccessDenied):
        services.assessor_flags(engine=engine, actor=as_(engine, "demo-assessor"), rubric=RUBRIC)
    report = services.assessor_flags(engine=engine, actor=OPERATOR, rubric=RUBRIC)
    live = store.load_ratings(engine=engine, rubric=RUBRIC, contexts=["live", "validity"])
    assert set(report.assessors) == set(live.raters)
    rules = services.programme_rules(rubric=store.stored_rubric(RUBRIC, engine=engine)).flags
    assert report.fdr == rules.fdr
    assert all(f.n >= rules.min_ratings for f in report.flags)
    severity = report.results[0]
    assert severity.test.name == "severity"
    # every assessor is tested on severity or said why not
    assert severity.tested + len(severity.not_tested) == len(report.assessors)
    board = services.assessor_flags(engine=engine, actor=as_(engine, "demo-board"), rubric=RUBRIC)
    assert all(a.startswith("A-") for a in board.assessors)
    assert all(f.assessor.startswith("A-") and "A0" not in f.reason for f in board.flags)
    out = calibrate("flags", "--rubric", RUBRIC, "--json", db=url)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown == _json_safe(report.to_dict())  # NaN (a chart's p-value) as null
    assert [a["id"] for a in shown["assessors"]] == list(report.assessors)
    text = calibrate("flags", "--rubric", RUBRIC, db=url)
    assert text.returncode == 0 and f"{len(report.assessors)} assessors" in text.stdout
    # a window with no rating in it is refused in one line
    empty = calibrate("flags", "--rubric", RUBRIC, "--until", "1990-01-01", db=url)
    assert empty.returncode == 1 and "no rating between" in empty.stderr


@pytest.mark.parametrize("command", ["attempts", "audit-rubric", "flags", "suspend-flagged"])
def test_monitoring_commands_refuse_an_unknown_rubric_in_one_line(
    demo: tuple[str, Engine], calibrate: Callable[..., Result], command: str
) -> None:
    url, engine = demo
    before = store.counts(engine=engine)
    out = calibrate(command, "--rubric", "no-such-rubric", db=url)
    assert out.returncode == 1
    assert "no-such-rubric" in out.stderr and "Traceback" not in out.stderr
    assert store.counts(engine=engine) == before  # reading only: nothing written
