"""Run published open-source audio offset finders ("peers") next to dubsync in a benchmark.

Each peer is a PyPI package with its own, often strict, pins (``audalign`` pins
``numpy==1.26.4``/``scipy==1.12.0``, ``audio-offset-finder`` wants ``numpy<2``), so
each one lives in its OWN virtual environment::

    benchmarks/.peers/<name>/venv/          the peer's venv (must be git-ignored)
    benchmarks/.peers/<name>/installed.json what was installed, when, how long it took, venv
                                            size, and the answer of a warm-up run
    benchmarks/.peers/<name>/freeze.txt     ``pip freeze`` of that venv (exact dependency versions)

and is run by a small runner script ``benchmarks/peer_runners/<name>.py`` that is
executed with that venv's python (a subprocess in its own process group, killed
with its children -- ffmpeg, worker pools -- when the timeout expires).  The runner
calls the peer, converts its answer to dubsync's sign convention and prints one
JSON line ``{"offset_s": ..., "seconds": ..., "raw": ...}`` (see
``peer_runners/_common.py``).

Sign convention (dubsync's): ``offset_s`` is POSITIVE when the dub LEADS the
original, i.e. an event at original time ``T`` is heard in the dub at time
``T - offset_s``.  Each runner documents the peer's own convention and how it is
converted; the conversions were checked empirically on generated pairs with
``dub(t) = original(t + 1.0)`` (must give +1.0) and ``dub(t) = original(t - 1.0)``
(must give -1.0).

Timing: ``PeerResult.seconds`` is measured INSIDE the runner with
``time.perf_counter()`` around the peer's estimate only: it includes the peer's
own decoding of both files (every peer shells out to ``ffmpeg``/``ffprobe``) and
all its processing, and excludes the interpreter start-up and the import of the
peer's package (which :func:`run_peer_detailed` reports separately as
``import_s``, next to ``wall_s``, the whole subprocess as seen from here).

None of the peers needs its inputs converted: all four decode any format
through ``ffmpeg`` themselves (audalign through pydub, which reads WAV itself and
calls ffmpeg for everything else), so the runners hand them the files as they are
(checked with FLAC originals and WAV, 5.1 AAC/.m4a and MP3 dubs).
All four need the ``ffmpeg``/``ffprobe`` binaries: :func:`prepare_peer` installs
Debian's ``ffmpeg`` package when it is missing (``dpkg -s ffmpeg ||
apt-get install -y -q ffmpeg``; this needs root, which the benchmark machine has).

This module deliberately imports neither dagster nor the project's ``ml``
package: it only drives subprocesses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PEERS",
    "PEER_SPECS",
    "AnswerCache",
    "PeerResult",
    "PeerSpec",
    "peer_versions",
    "prepare_peer",
    "run_peer",
    "run_peer_detailed",
]

DEFAULT_ROOT = Path(__file__).parent / ".peers"
"""Where the peers' venvs live; ``benchmarks/.peers/`` must be git-ignored."""

RUNNERS = Path(__file__).parent / "peer_runners"
"""The runner scripts, one ``<name>.py`` per peer."""


@dataclass(frozen=True)
class PeerSpec:
    """How to install one peer.

    Attributes
    ----------
    name : str
        The peer's name in :data:`PEERS` (= its runner's file name without ``.py``).
    requirement : str
        The exact pip requirement installed into the peer's venv (pinned, so that a
        benchmark is reproducible; the peer's own dependencies are whatever its
        metadata allows and are recorded in ``freeze.txt``).
    distribution : str
        The distribution name whose version :func:`peer_versions` reports.
    needs_ffmpeg : bool
        Whether the peer shells out to ``ffmpeg``/``ffprobe``.
    notes : str
        How the runner uses the peer and why (the settings of record).
    """

    name: str
    requirement: str
    distribution: str
    needs_ffmpeg: bool
    notes: str


PEER_SPECS: dict[str, PeerSpec] = {
    spec.name: spec
    for spec in (
        PeerSpec(
            "polysync",
            "polysync==0.3.0",
            "polysync",
            True,
            "polysync.sync.compute_sync on the audio extracted exactly as `polysync sync REF SRC` does "
            "(ffmpeg, mono, 8 kHz, loudest stream), without writing its .sync.json sidecars. Full-overlap "
            "mode first (the CLI default); when it raises SyncError (it needs >= 3 good 60-s probes, spaced "
            "180 s, i.e. inputs longer than ~8 min) the runner retries partial=True as the error message "
            "advises, reusing the decoded audio; the mode used is in `raw`. The coarse search is a full "
            "cross-correlation of the two envelopes: no lag limit, so +-600 s is covered.",
        ),
        PeerSpec(
            "syncstart",
            "syncstart==1.1.1",
            "syncstart",
            True,
            "`syncstart ORIGINAL DUB -t 86400 -s -q` run in-process (syncstart.main with sys.argv set). "
            "-t (take) defaults to 20 s, i.e. only the first 20 s of each file; 86400 s takes whole files. "
            "-s suppresses the interactive plot, -q prints `file_to_cut,seconds`. No -n/-d/-l (defaults). "
            "Audio is compared at the higher of the two sample rates; the FFT correlation is circular over "
            "a zero-padded buffer >= len1+len2, so any lag (+-600 s included) is searched.",
        ),
        PeerSpec(
            "audio-offset-finder",
            "audio-offset-finder==0.5.5",
            "audio-offset-finder",
            True,
            "audio_offset_finder.audio_offset_finder.find_offset_between_files(ORIGINAL, DUB) with the "
            "CLI's defaults (fs=8000, hop/resolution=128 samples = 16 ms, trim=None), i.e. the same as "
            "`audio-offset-finder --within ORIGINAL --find-offset-of DUB`. It correlates MFCCs of the "
            "first min(n1/3, n2, 2000) frames (<= 32 s) of one file against every position of the "
            "other: the lag range is +-(length - window), so +-600 s is covered for inputs longer than "
            "~10.5 min; max_frames is not forwarded by find_offset_between_files, so it stays 2000.",
        ),
        PeerSpec(
            "audalign",
            "audalign==1.3.1",
            "audalign",
            True,
            "audalign.align_files(ORIGINAL, DUB, recognizer=CorrelationRecognizer()) with the default "
            "CorrelationConfig (8 kHz, 200-Hz high-pass, normalize, multiprocessing, max_lags=None = no "
            "lag limit, so +-600 s is covered); the offset is shift[dub] - shift[original] of its result "
            "(the silence to prepend to each file to align them).",
        ),
    )
}

PEERS: tuple[str, ...] = ("polysync", "syncstart", "audio-offset-finder", "audalign")
"""The peers that installed on the benchmark machine (Python 3.11, PyPI mirror), in
the order they are reported.  All four requested peers are on PyPI and install."""


@dataclass(frozen=True)
class PeerResult:
    """One peer's estimate for one (original, dub) pair.

    Attributes
    ----------
    peer : str
    offset_s : float or None
        dubsync's convention: POSITIVE = the dub LEADS the original, i.e. an event at
        original time ``T`` is heard in the dub at time ``T - offset_s``.  None when the
        peer failed.
    seconds : float
        Wall time of the peer's estimate, measured inside the runner around the
        peer's call (its own decoding included; interpreter start-up and the peer's
        package import excluded).  On a timeout or crash: the wall time until then.
    error : str or None
        Set when the peer failed, timed out or produced no answer.
    cached : str or None
        When the answer was measured, if it was read back from an :class:`AnswerCache`
        (its ``seconds`` are from that run); None when measured now.
    """

    peer: str
    offset_s: float | None
    seconds: float
    error: str | None = None
    cached: str | None = None


def _spec(name: str) -> PeerSpec:
    try:
        return PEER_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEER_SPECS)}") from None


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _ensure_ffmpeg() -> None:
    """Install Debian's ``ffmpeg`` (which brings ``ffprobe``) unless it is there.

    Idempotent: ``dpkg -s ffmpeg`` first; ``apt-get update`` only when the first
    install attempt fails (e.g. stale package lists).
    """
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    if subprocess.run(["dpkg", "-s", "ffmpeg"], capture_output=True).returncode == 0 and shutil.which("ffmpeg"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "ffmpeg"]
    if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"could not install ffmpeg: {done.stderr.strip()[-2000:]}")
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        raise RuntimeError("ffmpeg was installed but ffmpeg/ffprobe are not on PATH")


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock, so that two processes never build one venv at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


WARMUP_OFFSET_S = 0.5
"""Lead of the dub in the synthetic warm-up pair (see :func:`_warm_up`)."""


def _write_warmup_pair(folder: Path, *, seconds: float = 20.0, rate: int = 16000) -> tuple[Path, Path]:
    """Write a synthetic (original, dub) WAV pair, dub leading by :data:`WARMUP_OFFSET_S`.

    Noise under a random, smoothed 100-ms gain pattern: it has both a detailed
    waveform (for waveform/MFCC correlators) and a pronounced envelope (for
    envelope correlators such as polysync's).  Standard library ``wave`` + numpy.
    """
    import wave

    import numpy as np

    rng = np.random.default_rng(12345)
    lead = int(round(WARMUP_OFFSET_S * rate))
    total = int(seconds * rate) + lead
    gains = np.repeat(rng.uniform(0.02, 1.0, total // (rate // 10) + 1) ** 2, rate // 10)[:total]
    kernel = np.hanning(rate // 50)
    gains = np.convolve(gains, kernel / kernel.sum(), mode="same")
    mix = rng.standard_normal(total) * gains
    mix = (0.3 * mix / np.max(np.abs(mix)) * 32767).astype("<i2")
    n = int(seconds * rate)
    paths = []
    for label, samples in (("original", mix[:n]), ("dub", mix[lead : lead + n])):  # dub(t) = original(t + lead)
        path = folder / f"warmup_{label}.wav"
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes(samples.tobytes())
        paths.append(path)
    return paths[0], paths[1]


def _warm_up(py: Path, name: str, home: Path) -> dict:
    """Run the fresh peer once on a synthetic pair; return what it answered (not timed as install).

    Why: a peer's first run may do one-off work that later runs do not repeat
    (audio-offset-finder's librosa JIT-compiles its numba kernels and caches them in
    the venv: ~17 s on the first call, ~2 s afterwards).  Doing it here keeps that
    one-off cost out of the benchmark, and doubles as a smoke test of the runner.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as td:
        original, dub = _write_warmup_pair(Path(td))
        answer = _run_runner(py, name, original, dub, timeout_s=600.0, cwd=home)
    return {
        "expected_offset_s": WARMUP_OFFSET_S,
        **{k: answer.get(k) for k in ("offset_s", "seconds", "wall_s", "error")},
    }


def prepare_peer(name: str, *, root: Path = DEFAULT_ROOT, python: str | None = None) -> Path:
    """Create ``<root>/<name>/venv`` and install the peer into it; return the venv's python.

    Idempotent: when ``<root>/<name>/installed.json`` records the same requirement
    and the venv's python exists, nothing is done (ffmpeg is still checked).  A
    half-built venv (no ``installed.json``) is removed and rebuilt.  A fresh install
    ends with one warm-up run on a synthetic pair (:func:`_warm_up`), whose answer is
    recorded in ``installed.json`` next to the install time and venv size.

    Parameters
    ----------
    name : str
        One of :data:`PEER_SPECS`.
    root : Path
        Folder of the peers' venvs (default ``benchmarks/.peers``, git-ignored).
    python : str, optional
        Interpreter that creates the venv (``python -m venv``); default the caller's
        ``sys.executable`` (from inside a venv, ``venv`` uses its base interpreter).
    """
    spec = _spec(name)
    if spec.needs_ffmpeg:
        _ensure_ffmpeg()
    home = Path(root) / name
    venv = home / "venv"
    marker = home / "installed.json"
    with _locked(home / ".lock"):
        if marker.is_file() and _venv_python(venv).is_file():
            try:
                if json.loads(marker.read_text()).get("requirement") == spec.requirement:
                    return _venv_python(venv)
            except (OSError, ValueError):
                pass
        marker.unlink(missing_ok=True)
        if venv.exists():
            shutil.rmtree(venv)
        start = time.perf_counter()
        subprocess.run([python or sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        py = _venv_python(venv)
        done = subprocess.run(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", spec.requirement],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip install {spec.requirement} failed:\n{done.stderr.strip()[-4000:]}")
        seconds = time.perf_counter() - start
        freeze = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
        (home / "freeze.txt").write_text(freeze)
        warmup = _warm_up(py, name, home)
        size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
        marker.write_text(
            json.dumps(
                {
                    "requirement": spec.requirement,
                    "install_seconds": round(seconds, 1),
                    "venv_bytes": size,
                    "warmup": warmup,
                    "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                indent=2,
            )
        )
        return py


PEER_MEMORY_BYTES = int(float(os.environ.get("DUBSYNC_PEER_MEMORY_GB", "12")) * 2**30)
"""Address-space cap of a peer's process (syncstart holds whole tracks as float arrays: about 10 GB
on a 15-minute pair), so that a peer fails with MemoryError instead of the machine swapping or the
kernel killing another process."""


def _limit_memory() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PEER_MEMORY_BYTES, PEER_MEMORY_BYTES))


def _run_runner(py: Path, name: str, original: Path, dub: Path, *, timeout_s: float, cwd: Path) -> dict:
    """Execute ``peer_runners/<name>.py ORIGINAL DUB`` with the peer's python; parse its JSON line."""
    runner = RUNNERS / f"{name}.py"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)  # the peer must not see the project's packages
    start = time.perf_counter()
    # Own process group, so that a timeout also ends the peer's children (ffmpeg,
    # audalign's multiprocessing pool), not only the runner.
    proc = subprocess.Popen(
        [str(py), str(runner), str(original), str(dub)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(cwd),
        start_new_session=True,
        preexec_fn=_limit_memory,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - start
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"peer": name, "offset_s": None, "seconds": wall, "wall_s": wall, "error": f"timed out after {timeout_s:g} s"}
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    wall = time.perf_counter() - start
    answer = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                answer = json.loads(line)
                break
    if not isinstance(answer, dict):
        tail = (done.stderr or done.stdout).strip()[-2000:]
        return {
            "peer": name,
            "offset_s": None,
            "seconds": wall,
            "wall_s": wall,
            "error": f"runner exited {done.returncode} without an answer: {tail}",
        }
    answer.update(peer=name, wall_s=wall)
    if answer.get("offset_s") is None and not answer.get("error"):
        answer["error"] = "the peer produced no offset"
    if answer.get("error") is None and done.returncode != 0:
        answer["error"] = f"runner exited {done.returncode}"
    if answer.get("error"):
        answer["stderr_tail"] = done.stderr.strip()[-2000:]
    return answer


def run_peer_detailed(
    name: str, original: Path, dub: Path, *, timeout_s: float = 600.0, root: Path = DEFAULT_ROOT
) -> dict:
    """Run a peer's runner on one pair; return everything it said.

    Returns the runner's JSON (``offset_s``, ``seconds``, ``raw``, ``import_s``,
    ``error``) plus ``peer`` and ``wall_s`` (the whole subprocess, interpreter
    start-up and imports included, measured here).  Prepares the peer first if
    needed (not timed).  Never raises for a failing peer: failures are reported in
    ``error``.
    """
    _spec(name)
    original, dub = Path(original).resolve(), Path(dub).resolve()
    for path in (original, dub):
        if not path.is_file():
            raise FileNotFoundError(path)
    try:
        py = prepare_peer(name, root=root)
    except Exception as exc:  # noqa: BLE001 - a peer that cannot be installed is a result, not a crash
        return {"peer": name, "offset_s": None, "seconds": 0.0, "wall_s": 0.0, "error": f"install failed: {exc}"}
    return _run_runner(py, name, original, dub, timeout_s=timeout_s, cwd=Path(root) / name)


def run_peer(
    name: str,
    original: Path,
    dub: Path,
    *,
    timeout_s: float = 600.0,
    root: Path = DEFAULT_ROOT,
    cache: AnswerCache | None = None,
) -> PeerResult:
    """Estimate the offset of ``dub`` against ``original`` with peer ``name``.

    Prepares the peer's venv first if needed (see :func:`prepare_peer`; that time
    is not counted).  ``timeout_s`` bounds the runner subprocess.  With ``cache``,
    an answer measured before on the same files and the same install is read back
    (``cached`` set to when it was measured) instead of running the peer again, and
    a new answer is kept.
    """
    answer = cache.get(name, original, dub) if cache is not None else None
    if answer is None:
        answer = run_peer_detailed(name, original, dub, timeout_s=timeout_s, root=root)
        if cache is not None:
            cache.put(name, original, dub, answer)
        cached = None
    else:
        cached = answer.get("measured", "earlier")
    offset = answer.get("offset_s")
    return PeerResult(
        peer=name,
        offset_s=None if offset is None else float(offset),
        seconds=float(answer.get("seconds") or 0.0),
        error=answer.get("error"),
        cached=cached,
    )


class AnswerCache:
    """Peers' answers kept between runs of a benchmark, one JSON line per answer (append-only, so a
    run cut off keeps what it measured and the next run resumes there).

    An answer is keyed by the peer, what is installed in its venv (``freeze.txt``), its runner
    (``peer_runners/<name>.py`` and ``_common.py``) and the bytes of both files: the same key can
    only give the same offset, so only the time differs between runs. A timed-out answer is not kept
    (it depends on the machine's load). An answer read back carries ``cached`` (when it was
    measured): its ``seconds`` are from that run, not this one.
    """

    def __init__(self, path: Path, *, root: Path = DEFAULT_ROOT, read: bool = True):
        self.path = Path(path)
        self.root = Path(root)
        self.answers: dict[str, dict] = {}
        self._digests: dict[tuple, str] = {}
        self._setups: dict[str, str] = {}
        if read and self.path.is_file():
            for line in self.path.read_text().splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    entry = json.loads(line)
                    self.answers[entry["key"]] = entry["answer"]

    def _file_digest(self, path: Path) -> str:
        stat = path.stat()
        token = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if token not in self._digests:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self._digests[token] = digest.hexdigest()
        return self._digests[token]

    def _setup(self, name: str) -> str:
        if name not in self._setups:
            digest = hashlib.sha256(name.encode())
            for path in (self.root / name / "freeze.txt", RUNNERS / f"{name}.py", RUNNERS / "_common.py"):
                digest.update(path.read_bytes() if path.is_file() else b"-")
            self._setups[name] = digest.hexdigest()
        return self._setups[name]

    def key(self, name: str, original: Path, dub: Path) -> str:
        parts = (self._setup(name), self._file_digest(Path(original)), self._file_digest(Path(dub)))
        return hashlib.sha256("/".join(parts).encode()).hexdigest()

    def get(self, name: str, original: Path, dub: Path) -> dict | None:
        return self.answers.get(self.key(name, original, dub))

    def put(self, name: str, original: Path, dub: Path, answer: dict) -> None:
        if "timed out" in (answer.get("error") or ""):
            return
        answer = {**answer, "measured": time.strftime("%Y-%m-%d %H:%M")}
        key = self.key(name, original, dub)
        self.answers[key] = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({"key": key, "peer": name, "original": _shown(original), "dub": _shown(dub), "answer": answer}) + "\n")


def _shown(path: Path) -> str:
    """A file's path for the record: relative to the repository when inside it (the key is the bytes, not the path)."""
    path = Path(path).resolve()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path(__file__).resolve().parents[1]))
    return str(path)


def peer_versions(root: Path = DEFAULT_ROOT) -> dict[str, str]:
    """The installed version of each peer in :data:`PEERS`, read from its venv.

    A peer whose venv has not been prepared yet is reported as
    ``"not prepared (pin <requirement>)"``.
    """
    versions: dict[str, str] = {}
    for name in PEERS:
        spec = PEER_SPECS[name]
        py = _venv_python(Path(root) / name / "venv")
        if not py.is_file():
            versions[name] = f"not prepared (pin {spec.requirement})"
            continue
        done = subprocess.run(
            [str(py), "-c", f"import importlib.metadata as m; print(m.version({spec.distribution!r}))"],
            capture_output=True,
            text=True,
        )
        versions[name] = done.stdout.strip() if done.returncode == 0 else f"unknown ({done.stderr.strip()[-200:]})"
    return versions


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.peers ORIGINAL DUB [PEER ...]``: print one JSON line per peer."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("original", type=Path)
    parser.add_argument("dub", type=Path)
    parser.add_argument("peers", nargs="*", default=list(PEERS), help=f"default: all of {', '.join(PEERS)}")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per peer (default 600)")
    args = parser.parse_args(argv)
    versions = peer_versions()
    for name in args.peers:
        answer = run_peer_detailed(name, args.original, args.dub, timeout_s=args.timeout)
        answer["version"] = versions.get(name)
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
