"""``dagster dev`` (webserver and daemon) on a given instance, as a context manager for end-to-end tests.

The process runs in its own process group and is stopped by group id, never by name. ``dagster dev``
started from a non-interactive shell inherits SIGINT/SIGTERM as ignored, so the child resets both to
their defaults before it execs ``dagster``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DagsterDev", "REPO_ROOT", "free_port", "running_dagster_dev", "stop_process_group"]

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root: ``dagster dev -w workspace.yaml`` runs from here."""

STARTUP_TIMEOUT_S = 120.0
"""How long the webserver may take to answer ``/server_info`` (2 cores, cold imports)."""
STOP_TIMEOUT_S = 20.0
"""How long the process group gets after SIGTERM before it is killed."""

_RESET_SIGNALS_AND_EXEC = (
    "import os,signal,sys;"
    "[signal.signal(s,signal.SIG_DFL) for s in (signal.SIGINT,signal.SIGTERM)];"
    "os.execv(sys.argv[1],sys.argv[1:])"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class DagsterDev:
    """A running ``dagster dev``.

    Attributes
    ----------
    url : str
        The webserver's base URL, ``http://127.0.0.1:<port>``.
    pid : int
        The process id of ``dagster dev``, also its process group id.
    log_path : Path
        Its combined stdout and stderr.
    """

    url: str
    pid: int
    log_path: Path

    def graphql(self, query: str, variables: Mapping | None = None, *, timeout: float = 60.0) -> dict:
        """POST ``query`` to ``/graphql``; returns ``data``, raises on transport or GraphQL errors."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {json.dumps(payload['errors'], indent=2)[:4000]}")
        return payload["data"]

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(process: subprocess.Popen, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group, wait for it to empty, SIGKILL whatever is left."""
    pgid = process.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.poll()  # reaps the leader so the group can empty
        if not _group_alive(pgid):
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@contextmanager
def running_dagster_dev(
    dagster_home: Path,
    env: Mapping[str, str],
    port: int | None = None,
    *,
    workspace: str = "workspace.yaml",
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[DagsterDev]:
    """Run ``dagster dev -w workspace.yaml -p PORT`` (webserver and daemon) until the block exits.

    Parameters
    ----------
    dagster_home : Path
        The instance folder; the log ``dagster_dev.log`` is written here. ``DAGSTER_HOME`` is set to it
        unless ``env`` sets it.
    env : Mapping[str, str]
        Variables added to the current environment (``DUBSYNC_MEDIA_ROOT``, ``DUBSYNC_ARTIFACT_ROOT``, ...).
    port : int, optional
        The webserver port; a free one if None.
    workspace : str
        The workspace file, relative to the repository root.
    startup_timeout_s : float
        Seconds to wait for ``/server_info`` to answer.

    Yields
    ------
    DagsterDev
        ``url``, ``pid``, ``log_path`` and a ``graphql(query, variables)`` helper.
    """
    dagster_home = Path(dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    dagster = REPO_ROOT / ".venv" / "bin" / "dagster"
    if not dagster.exists():
        dagster = Path(sys.executable).with_name("dagster")
    child_env = {**os.environ, "DAGSTER_HOME": str(dagster_home), **env}
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    command = [
        sys.executable, "-c", _RESET_SIGNALS_AND_EXEC,
        str(dagster), "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port),
    ]
    log_path = dagster_home / "dagster_dev.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group: stopped by group id
        )
    server = DagsterDev(url=f"http://127.0.0.1:{port}", pid=process.pid, log_path=log_path)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _answers(server.url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"dagster dev exited with status {process.returncode} before answering; "
                    f"log {log_path}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"dagster dev did not answer {server.url}/server_info within {startup_timeout_s:.0f} s; "
                    f"log {log_path}:\n{server.log_tail()}"
                )
            time.sleep(0.5)
        yield server
    finally:
        stop_process_group(process)
