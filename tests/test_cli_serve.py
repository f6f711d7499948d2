"""``calibrate serve`` (and the demo's serving): the port is checked before anything claims to
serve, the dashboard listens on this machine unless told otherwise, and Streamlit is started with
its settings on the command line (no Deploy button)."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calibrate import cli
from tests.conftest import Result


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The Streamlit commands the CLI would run (none is run)."""
    commands: list[list[str]] = []

    def run(cmd: list[str], env: dict[str, str]) -> int:
        commands.append(cmd)
        return 0

    monkeypatch.setattr(cli, "run_streamlit", run)
    return commands


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other server listens on, on 127.0.0.1."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def options(cmd: list[str]) -> dict[str, str]:
    """The ``--name value`` pairs of a command."""
    return {k: v for k, v in itertools.pairwise(cmd) if k.startswith("--")}


def test_a_taken_port_fails_in_one_line_before_claiming_to_serve(
    calibrate: Callable[..., Result], tmp_path: Path, busy_port: int, started: list[list[str]]
) -> None:
    out = calibrate("serve", "--port", str(busy_port), db=f"sqlite:///{tmp_path / 's.db'}")
    assert out.returncode == 1
    assert out.stderr == (
        f"error: cannot serve the dashboard: port {busy_port} on 127.0.0.1 is already in use; "
        "choose another with --port\n"
    )
    assert out.stdout == "" and started == []


def test_serves_this_machine_only_by_default_without_a_deploy_button(
    calibrate: Callable[..., Result], tmp_path: Path, started: list[list[str]]
) -> None:
    port = free_port()
    out = calibrate("serve", "--port", str(port), db=f"sqlite:///{tmp_path / 's.db'}")
    assert out.returncode == 0, out.stderr
    assert out.stderr == f"serving the dashboard on http://127.0.0.1:{port} (Ctrl-C to stop)\n"
    (cmd,) = started
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(cmd[4]).name == "app.py" and Path(cmd[4]).parent.name == "dashboard"
    assert options(cmd) == {
        "--server.address": "127.0.0.1",
        "--server.port": str(port),
        "--server.headless": "false",
        "--client.toolbarMode": "minimal",
        "--browser.gatherUsageStats": "false",
        "--server.showEmailPrompt": "false",
        "--server.enableXsrfProtection": "true",
        "--server.enableCORS": "true",
    }


def test_address_option(
    calibrate: Callable[..., Result], tmp_path: Path, started: list[list[str]]
) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 's.db'}"
    out = calibrate("serve", "--address", "0.0.0.0", "--port", str(port), "--headless", db=db)
    assert out.returncode == 0, out.stderr
    assert out.stderr == f"serving the dashboard on http://localhost:{port} (Ctrl-C to stop)\n"
    assert options(started[0])["--server.address"] == "0.0.0.0"
    assert options(started[0])["--server.headless"] == "true"
    bad = calibrate("serve", "--address", "no.such.host.invalid", "--port", str(port), db=db)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "'no.such.host.invalid' is not an address of this machine" in bad.stderr


def test_the_demo_checks_the_port_before_building(
    calibrate: Callable[..., Result],
    tmp_path: Path,
    busy_port: int,
    started: list[list[str]],
) -> None:
    out = calibrate(
        "demo", "--size", "classroom", "--port", str(busy_port), "--out", "d",
        db=f"sqlite:///{tmp_path / 's.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"error: cannot serve the dashboard: port {busy_port} on 127.0.0.1 is already in use; "
        "choose another with --port (or give --no-serve)",
        "nothing was written",
    ]
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "d").exists()
    assert started == []


def test_the_repository_config_says_what_serve_passes() -> None:
    """``streamlit run app.py`` from a checkout reads .streamlit/config.toml: the same settings
    as ``calibrate serve`` puts on its command line."""
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    cmd = cli.streamlit_command(address="127.0.0.1", port=8501, headless=False)
    flat = {f"--{section}.{k}": v for section, values in config.items() for k, v in values.items()}
    for key, value in flat.items():
        assert options(cmd)[key] == (str(value).lower() if isinstance(value, bool) else value)


def test_serving_imports_no_streamlit_module(tmp_path: Path, busy_port: int) -> None:
    """Importing the dashboard outside ``streamlit run`` logs "No runtime found, using
    MemoryCacheStorageManager" once per cached function: the CLI only locates it."""
    code = (
        "import sys\n"
        "from calibrate.cli import streamlit_command\n"
        "streamlit_command(address='127.0.0.1', port=8501, headless=True)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('streamlit', 'calibrate.dash'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout == "[]\n"
    served = subprocess.run(
        [sys.executable, "-m", "calibrate", "serve", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"CALIBRATE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "PATH": "/usr/bin"},
    )
    assert served.returncode == 1
    assert "No runtime found" not in served.stderr
    assert served.stderr.startswith("error: cannot serve the dashboard: port")
