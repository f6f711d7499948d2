"""The Flags and Assessor pages (issue 12, part 7) show what the services compute: the flags
with their reasons and the expected false flags, every assessor's figures among their peers;
administrators apply flags to the workflow, leads do not; board reviewers see pseudonyms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.flags import FlagReport
from tests.test_dashboard_pages import FIRST, build_demo_store, metrics, open_page
from tests.test_monitoring import as_


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_demo_store(tmp_path_factory.mktemp("flags-pages"))


@pytest.fixture(scope="module")
def engine(url: str) -> Iterator[Engine]:
    eng = store.open_store(url)
    yield eng
    eng.dispose()


def report_for(engine: Engine, username: str) -> FlagReport:
    return services.assessor_flags(engine=engine, actor=as_(engine, username), rubric=FIRST)


def test_flags_page_shows_the_report(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    at = open_page(monkeypatch, url, "flags")
    assert not at.exception, at.exception
    report = report_for(engine, "demo-admin")
    shown = metrics(at)
    assert shown["Assessors"] == f"{len(report.assessors):,}"
    assert shown["Flags"] == f"{len(report.flags):,}"
    assert shown["Expected false"] == f"≤ {report.expected_false:.1f}"
    frames = [d.value for d in at.dataframe]  # assessors, every flag (if any), what was tested
    table = frames[0]
    assert sorted(table["assessor"]) == sorted(report.assessors)
    for _, row in table.iterrows():
        assert row["flags"] == len(report.of(row["assessor"]))
        assert row["page"] == f"assessor?assessor={row['assessor']}"
    tests = frames[-1]
    assert list(tests["statistic"]) == [r.test.statistic for r in report.results]
    assert list(tests["tested"]) == [r.tested for r in report.results]
    if report.flags:
        details = frames[1]
        assert list(details["value"]) == pytest.approx([f.value for f in report.flags])
        listed = [m.value for m in at.markdown if m.value.startswith("- **")]
        assert len(listed) == len(report.flags)
    # an administrator is offered the workflow's side (here: no kind set to suspend)
    assert any("flags.suspend_" in m.value for m in at.markdown)


def test_a_lead_is_not_offered_suspensions(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = open_page(monkeypatch, url, "flags", user="demo-lead")
    assert not at.exception, at.exception
    assert not any("Apply to the workflow" in s.value for s in at.subheader)


def test_the_assessor_page_shows_their_figures(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    report = report_for(engine, "demo-admin")
    severity = report.result("severity")
    assert severity is not None
    who = next(f.assessor for f in severity.figures if f.tested)
    at = open_page(monkeypatch, url, "assessor")
    at.selectbox(key="assessor_who").select(who).run()
    assert not at.exception, at.exception
    assert at.query_params["assessor"] == [who] or at.query_params["assessor"] == who
    assert at.get("vega_lite_chart")  # the severity among peers (and the control chart)
    fit = at.dataframe[0].value  # the first table: fit and use of the scale
    mine = {
        r.test.statistic: next(f for f in r.figures if f.assessor == who and f.criterion is None)
        for r in report.results
        if r.test.name in ("inconsistent", "central", "halo")
    }
    for statistic, fig in mine.items():
        (row,) = fit[fit["statistic"] == statistic].to_dict("records")
        assert row["value"] == f"{fig.value:.3f}" and row["evidence"] == fig.n
    flags = [m.value for m in at.markdown if m.value.startswith("- **")]
    assert len(flags) == len(report.of(who))


def test_board_reviewers_see_pseudonyms(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    at = open_page(monkeypatch, url, "flags", user="demo-board")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert all(a.startswith("A-") for a in table["assessor"])
    board = report_for(engine, "demo-board")
    assert sorted(table["assessor"]) == sorted(board.assessors)
