"""The README runs as written: every ``calibrate`` command of its bash blocks and its Python
blocks, in order, in a folder arranged as ``./scripts/demo`` leaves a checkout.

The folder holds copies of ``rubrics/`` and ``anchor_sets/`` and the demo that ``./scripts/demo``
builds (``calibrate demo --no-serve``: ``var/calibrate.db``, ``var/demo/``). Commands run
in-process through :func:`calibrate.cli.main`, like a shell session: ``export``/``unset`` set
the environment for the lines after them, ``cat > FILE <<'EOF'`` writes a file, and
``calibrate ... <<'EOF'`` gives the heredoc as the command's stdin (a password for
``--password-stdin``); logins are kept in a session file of the test's own. ``calibrate
serve`` (and a demo that serves) goes up to starting Streamlit, which is replaced by a stub, and
the port check is skipped (a port may be taken on the test machine; tests/test_cli_serve.py tests
the check). Any other line is an error of this test, so that the README cannot grow a command the
test silently skips; the lines deliberately not run are :data:`NOT_RUN`, each with its reason.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from calibrate import cli
from tests.conftest import ROOT

README = ROOT / "README.md"

NOT_RUN = {
    "./scripts/demo": "installs into .venv and serves until stopped: the folder is set up by "
    "the `calibrate demo --no-serve` it wraps, and the `calibrate serve` lines run its serving",
    "./scripts/test": "runs this test suite itself",
}

_BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
_HEREDOC = re.compile(r"^cat > (\S+) <<'(\w+)'$")
_STDIN = re.compile(r"^(calibrate .*\S) <<'(\w+)'$")


@dataclass(frozen=True)
class Step:
    """One line (or heredoc) of a README bash block, or a whole Python block."""

    kind: str  # "calibrate", "write", "export", "unset", "skip", "python"
    text: str  # the README's own text, for messages
    args: tuple[str, ...] = ()
    body: str = ""


def steps(readme: str = README.read_text(encoding="utf-8")) -> Iterator[Step]:
    """The README's runnable content, in order."""
    for language, block in _BLOCK.findall(readme):
        if language == "python":
            yield Step("python", block, body=block)
            continue
        lines = iter(block.splitlines())
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            heredoc = _HEREDOC.match(text) or _STDIN.match(text)
            if heredoc:
                target, end = heredoc.groups()
                body = []
                for inner in lines:
                    if inner == end:
                        break
                    body.append(inner + "\n")
                else:
                    raise AssertionError(f"README: heredoc {text!r} has no closing {end}")
                if target.startswith("calibrate "):
                    args = tuple(shlex.split(target)[1:])
                    yield Step("calibrate", text, args, "".join(body))
                else:
                    yield Step("write", text, (target,), "".join(body))
                continue
            words = shlex.split(text, comments=True)
            if words[0] in NOT_RUN:
                yield Step("skip", text, (words[0],))
            elif words[0] == "calibrate":
                yield Step("calibrate", text, tuple(words[1:]))
            elif words[0] == "export" and len(words) == 2 and "=" in words[1]:
                yield Step("export", text, tuple(words[1].split("=", 1)))
            elif words[0] == "unset" and len(words) == 2:
                yield Step("unset", text, (words[1],))
            else:
                raise AssertionError(f"README line this test cannot run: {text!r}")


def test_every_readme_line_is_understood() -> None:
    """Fast: the parser takes every line, each ``calibrate`` line names a real command, and
    :data:`NOT_RUN` holds only lines the README has."""
    found = list(steps())
    commands = [s for s in found if s.kind == "calibrate"]
    assert len(commands) >= 20
    for step in commands:
        assert cli.invoked_command(list(step.args)), step.text
    assert {s.args[0] for s in found if s.kind == "skip"} == set(NOT_RUN)
    assert sum(s.kind == "python" for s in found) == 2


@pytest.mark.slow
def test_the_readme_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("rubrics", "anchor_sets"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALIBRATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("CALIBRATE_SESSION_FILE", str(tmp_path / "session.json"))
    served: list[list[str]] = []
    monkeypatch.setattr(cli, "port_problem", lambda address, port: None)
    monkeypatch.setattr(cli, "run_streamlit", lambda cmd, env: served.append(cmd) or 0)

    def run(args: tuple[str, ...], text: str, stdin: str = "") -> None:
        monkeypatch.setattr(sys, "argv", ["calibrate", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            cli.main()
            code: object = 0
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        assert code in (0, None), f"{text}\nexit {code}\n{out.err[-3000:]}"

    run(("demo", "--no-serve"), "calibrate demo --no-serve (what ./scripts/demo runs)")
    namespace: dict[str, object] = {}
    n_run = n_serve = 0
    for step in steps():
        if step.kind == "calibrate":
            run(step.args, step.text, step.body)
            n_run += 1
            n_serve += cli.invoked_command(list(step.args)) == "serve"
        elif step.kind == "write":
            (tmp_path / step.args[0]).write_text(step.body, encoding="utf-8")
        elif step.kind == "export":
            monkeypatch.setenv(*step.args)
        elif step.kind == "unset":
            monkeypatch.delenv(step.args[0], raising=False)
        elif step.kind == "python":
            exec(compile(step.body, f"README.md python block:\n{step.body}", "exec"), namespace)
    assert n_run == sum(s.kind == "calibrate" for s in steps())
    assert len(served) == n_serve > 0
    assert "exported" in namespace and "study" in namespace  # both Python blocks ran
    made_files = (
        "var/demo/ratings.csv",
        "var/mine.db",
        "var/classroom.db",
        "var/pilot/truth.json",
        "var/crsel-intro.csv",
    )
    for made in made_files:
        assert (tmp_path / made).is_file(), made
