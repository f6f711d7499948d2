"""The store's CLI doors: exit codes, one-line messages, JSON output, nothing written on failure."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.anchors import load_anchor_sets
from calibrate.rubric import load_rubrics
from tests.conftest import DEMO_RUBRIC, ROOT, Result


def test_entry_point_runs_as_a_program(tmp_path: Path) -> None:
    """The installed console script: a user mistake exits 1 with one line, no traceback."""
    out = subprocess.run(
        [sys.executable, "-m", "calibrate", "import", "rubrics", "missing"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"CALIBRATE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "PATH": "/usr/bin"},
    )
    assert out.returncode == 1
    assert out.stderr.startswith("error: 1 problem(s) found:\n  missing: no such file or folder")
    assert "Traceback" not in out.stderr


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "demo.yaml").write_text(DEMO_RUBRIC)
    return tmp_path


def test_import_flow(calibrate: Callable[..., Result], workdir: Path, db_url: str) -> None:
    out = calibrate("import", "rubrics", "rubrics", "--json", db=db_url, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "kind": "definitions",
        "source": "rubrics",
        "rows": 1,
        "written": 1,
        "unchanged": 0,
    }
    (workdir / "r.csv").write_text(
        "submission,assessor,criterion,score\nS1,A1,plan,3\nS1,A2,plan,2\n"
    )
    out = calibrate(
        "import", "ratings", "r.csv", "--rubric", "demo", "--json", db=db_url, cwd=workdir
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["written"] == 2
    out = calibrate("import", "ratings", "r.csv", "--rubric", "demo", db=db_url, cwd=workdir)
    assert out.stdout.strip() == "r.csv: 2 read, 0 written, 2 already stored"
    status = json.loads(calibrate("status", "--json", db=db_url, cwd=workdir).stdout)
    assert status["rating"] == 2 and status["assessor"] == 2
    out = calibrate("correct", "1", "1", "--reason", "typo", "--json", db=db_url, cwd=workdir)
    assert json.loads(out.stdout) == {"rating": 3, "supersedes": 1}
    out = calibrate("history", "3", db=db_url, cwd=workdir)
    assert "rev 1: score 3" in out.stdout and "rev 2: score 1" in out.stdout
    assert "(typo)" in out.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (
            b"submission,assessor,criterion,score\nS1,A1,plan,9\n",
            "r.csv:2 [score]: score 9 is not a level of demo@1",
        ),
        (
            "submission,assessor,criterion,score\nS1,Andr\xe9,plan,2\n".encode("latin-1"),
            "not UTF-8",
        ),
        (b"S1,A1,plan,2\n", "missing column"),
    ],
)
def test_bad_files_fail_cleanly(
    calibrate: Callable[..., Result], workdir: Path, content: bytes, message: str
) -> None:
    db = f"sqlite:///{workdir / 'store.db'}"
    assert calibrate("import", "rubrics", "rubrics", db=db, cwd=workdir).returncode == 0
    (workdir / "r.csv").write_bytes(content)
    out = calibrate("import", "ratings", "r.csv", "--rubric", "demo", db=db, cwd=workdir)
    assert out.returncode == 1
    assert message in out.stderr
    assert "nothing was written" in out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(calibrate("status", "--json", db=db, cwd=workdir).stdout)["rating"] == 0


def test_user_mistakes_never_trace(calibrate: Callable[..., Result], workdir: Path) -> None:
    db = f"sqlite:///{workdir / 'store.db'}"
    cases = [
        (("import", "rubrics", "missing"), "no such file or folder"),
        (("import", "ratings", "missing.csv", "--rubric", "demo"), "file not found"),
        (("import", "ratings", "x.csv", "--wide"), "--wide needs --criterion"),
        (("correct", "99", "2", "--reason", "x"), "no rating with id 99"),
        (("history", "99"), "no rating with id 99"),
        (("serve", "--database", "mysql://x/y"), "unsupported database"),
        (("status", "--database", "mysql://x/y"), "unsupported database"),
        (("validate", "rubrics", "--anchors", "nowhere"), "no such folder"),
        (("import", "ratings"), "Missing argument"),
        (("agree",), "No such command"),
    ]
    for args, message in cases:
        out = calibrate(*args, db=db, cwd=workdir)
        assert out.returncode != 0, args
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_validate_shipped_content(calibrate: Callable[..., Result]) -> None:
    out = calibrate("validate", "rubrics", "--anchors", "anchor_sets", db="sqlite://", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    assert out.stdout == f"ok: {len(rubrics)} rubric(s), {len(sets)} anchor set(s)\n"


@pytest.mark.parametrize("anchors", ["empty", "rubrics"])
@pytest.mark.parametrize("command", ["import", "validate"])
def test_anchor_folder_without_sets_fails(
    calibrate: Callable[..., Result], workdir: Path, db_url: str, anchors: str, command: str
) -> None:
    """An --anchors folder with no <rubric-id>/*.yaml file (empty, or the rubrics folder by
    mistake) is an error, not a silent import of no anchor sets."""
    (workdir / "empty").mkdir()
    args = ("import", "rubrics") if command == "import" else ("validate",)
    out = calibrate(*args, "rubrics", "--anchors", anchors, db=db_url, cwd=workdir)
    assert out.returncode == 1
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")] == [
        "error: 1 problem(s) found:"
    ]
    assert f"  {anchors}: no anchor-set files (<rubric-id>/*.yaml) in this folder" in out.stderr
    assert out.stdout == ""
    status = json.loads(calibrate("status", "--json", db=db_url, cwd=workdir).stdout)
    assert not any(status.values()), status


def test_malformed_rubric_version_fails_cleanly(
    calibrate: Callable[..., Result], workdir: Path, db_url: str
) -> None:
    assert calibrate("import", "rubrics", "rubrics", db=db_url, cwd=workdir).returncode == 0
    (workdir / "r.csv").write_text("submission,assessor,criterion,score\nS1,A1,plan,3\n")
    out = calibrate("import", "ratings", "r.csv", "--rubric", "demo@one", db=db_url, cwd=workdir)
    assert out.returncode == 1
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")] == [
        "error: 1 problem(s) found:"
    ]
    assert "r.csv:2 [rubric]: rubric 'demo@one': the version after '@' must be" in out.stderr
    assert "Traceback" not in out.stderr
    status = json.loads(calibrate("status", "--json", db=db_url, cwd=workdir).stdout)
    # the rubric import's batch only
    assert (status["rating"], status["assessor"], status["import_batch"]) == (0, 0, 1)


# --- which refusals say "nothing was written" -------------------------------------------------

WRITING = [
    ("import", "rubrics", "missing"),
    ("import", "ratings", "missing.csv", "--rubric", "demo"),
    ("correct", "99", "2", "--reason", "typo"),
    ("demo", "--size", "county", "--no-serve"),
    ("export", "ratings", "--rubric", "nope", "--out", "x.csv"),
    ("accounts", "create-admin", "ada", "--password-stdin"),  # stdin: a password too short
    ("accounts", "add", "x", "--role", "wizard", "--sso", "x@example.org"),
    ("accounts", "disable", "nobody"),
    ("accounts", "enable", "nobody"),
    ("accounts", "role", "nobody", "lead"),
    ("accounts", "password", "nobody"),
    ("accounts", "grant", "nobody", "default"),
    ("accounts", "revoke", "nobody", "default"),
    ("practice", "next", "--rubric", "demo"),
    ("practice", "score", "P-0000000000", "plan=2"),
    ("round", "start", "--rubric", "demo"),
    ("round", "score", "Q-0000000000", "1", "plan=2"),
    ("queue", "next"),
    ("queue", "score", "S-0000000000", "plan=2"),
    ("queue", "release", "S-0000000000", "--reason", "I know this teacher"),
    ("adjudicate", "resolve", "s1", "plan=2", "--reason", "evidence on day 3"),
    ("submissions", "add", "--rubric", "demo", "--key", "s1", "--title", "Plan"),
    ("suspend", "A-1", "--rubric", "demo", "--reason", "spot check"),
    ("reinstate", "A-1", "--rubric", "demo", "--reason", "retrained"),
]
READING = [
    ("validate", "missing"),
    ("agreement", "missing.csv"),
    ("raters", "missing.csv"),
    ("gstudy", "missing.csv"),
    ("accuracy", "missing.csv", "--anchors", "missing"),
    ("simulate", "--size", "county", "--out", "sim"),
    ("status", "--database", "mysql://x/y"),
    ("history", "99"),
]


@pytest.mark.parametrize("args", WRITING, ids=" ".join)
def test_refused_writes_say_nothing_was_written(
    calibrate: Callable[..., Result],
    workdir: Path,
    args: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("too-short\n"))
    out = calibrate(*args, db=f"sqlite:///{workdir / 'store.db'}", cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ")
    assert out.stderr.endswith("\nnothing was written\n")
    assert not (workdir / "x.csv").exists()


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_commands_that_write_nothing_do_not_say_so(
    calibrate: Callable[..., Result], workdir: Path, args: tuple[str, ...]
) -> None:
    out = calibrate(*args, db=f"sqlite:///{workdir / 'store.db'}", cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ")
    assert "nothing was written" not in out.stderr


def test_the_writing_commands_are_commands() -> None:
    from calibrate.cli import WRITES, invoked_command

    assert {invoked_command(name.split()) for name in WRITES} == WRITES
    assert {invoked_command(list(args)) for args in WRITING} == WRITES
    assert invoked_command(["--json", "import", "ratings", "r.csv", "--rubric", "x"]) == (
        "import ratings"
    )
    assert invoked_command(["nope"]) == invoked_command([]) == ""


# --- every problem of a refused file reaches the user -----------------------------------------


def bad_scores(path: Path, n: int) -> Path:
    """A ratings file of ``n`` rows, each with a score that is not a level of demo@1."""
    rows = "".join(f"S{i},A1,plan,9\n" for i in range(n))
    path.write_text("submission,assessor,criterion,score\n" + rows)
    return path


def test_every_problem_is_printed(calibrate: Callable[..., Result], workdir: Path) -> None:
    db = f"sqlite:///{workdir / 'store.db'}"
    assert calibrate("import", "rubrics", "rubrics", db=db, cwd=workdir).returncode == 0
    bad_scores(workdir / "r.csv", 120)
    out = calibrate("import", "ratings", "r.csv", "--rubric", "demo", db=db, cwd=workdir)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == "error: 120 problem(s) found:"
    assert len(lines) == 1 + 120 + 1
    for i, line in enumerate(lines[1:-1], start=2):
        assert line.startswith(f"  r.csv:{i} [score]: score 9 is not a level of demo@1"), line
    assert lines[-1] == "nothing was written"
    assert ".problems" not in out.stderr


def test_very_many_problems_go_to_a_file_the_message_names(
    calibrate: Callable[..., Result], workdir: Path
) -> None:
    from calibrate.cli import HEAD, PRINTED

    db = f"sqlite:///{workdir / 'store.db'}"
    assert calibrate("import", "rubrics", "rubrics", db=db, cwd=workdir).returncode == 0
    n = PRINTED + 50
    bad_scores(workdir / "r.csv", n)
    out = calibrate("import", "ratings", "r.csv", "--rubric", "demo", db=db, cwd=workdir)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == f"error: {n} problem(s) found:"
    assert len(lines) == 1 + HEAD + 2 and lines[-1] == "nothing was written"
    head, listed = lines[-2].split(": all ")
    assert head == f"  ... and {n - HEAD} more"
    count, path = listed.split(" are listed in ")
    assert count == str(n)
    written = Path(path).read_text(encoding="utf-8").splitlines()
    assert len(written) == n
    for i, line in enumerate(written, start=2):
        assert line.startswith(f"r.csv:{i} [score]: score 9 is not a level of demo@1"), line
    assert ".problems" not in out.stderr.replace(".problems.txt", "")
    Path(path).unlink()


def test_validate_json(calibrate: Callable[..., Result]) -> None:
    out = calibrate("validate", "rubrics", "--anchors", "anchor_sets", "--json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    assert json.loads(out.stdout) == {"rubrics": len(rubrics), "anchor_sets": len(sets)}


def test_unknown_columns_are_refused_unless_told_to_ignore_them(
    calibrate: Callable[..., Result], engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """A misspelt ``contxt`` would store a validity rating as live work: refused with the
    closest name; --ignore-unknown-columns drops it on purpose."""
    store.import_definition_dirs(ROOT / "rubrics", None, engine=engine)
    path = tmp_path / "typo.csv"
    path.write_text("submission,assessor,criterion,score,contxt\nS1,A1,reflection,2,validity\n")
    refused = calibrate("import", "ratings", str(path), "--rubric", "crsel-intro", db=db_url)
    assert refused.returncode == 1 and "contxt" in refused.stderr and "context" in refused.stderr
    assert store.counts(engine=engine)["rating"] == 0
    taken = calibrate(
        "import",
        "ratings",
        str(path),
        "--rubric",
        "crsel-intro",
        "--ignore-unknown-columns",
        db=db_url,
    )
    assert taken.returncode == 0, taken.stderr
    assert store.counts(engine=engine)["rating"] == 1
