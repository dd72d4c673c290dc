"""The peer harness (benchmarks/peers.py): every installed peer finds a known offset, with the right sign.

Each peer runs in its own venv under ``benchmarks/.peers/``; when a venv is missing the
test builds it first (pip install + ffmpeg if needed: ~15-50 s per peer, once).  With
the venvs in place the whole module takes ~20 s: each peer runs on a generated 30-s
pair where the dub leads by +1.0 s and on one where it lags by 1.0 s (-1.0), which
pins down the sign conversion of its runner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import (
    peers,  # the repository's root is on the path (pyproject: pythonpath)
)

TOLERANCE_S = 0.1

SEED = 5
"""Generator seed of the test pairs.  Chosen because its 30-s titles carry no DC offset:
``media/music/glacier-bay-humpback.hq.ogg`` has a DC offset of 0.36 FS, and the
titles whose music bed draws an excerpt of it (seeds 1, 3, 4, 6, 7 at 30 s) carry a
constant ~0.055 FS offset for tens of seconds.  syncstart correlates raw waveforms
without removing DC, so on such a pair (seed 1, 30 s) the DC triangle outweighs the
content and it answers 0.09 s instead of 1.0 s.  That is a quirk of one source file,
not of dubbing, so the harness test avoids it (and checks that it does)."""


def _max_dc(path: Path) -> float:
    """Largest |mean| of any 1-s block of the file's mono downmix (full scale = 1)."""
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(path, always_2d=True)
    mono = x.mean(axis=1)
    return max(abs(float(np.mean(mono[i : i + sr]))) for i in range(0, len(mono), sr))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[float, tuple[Path, Path]]:
    """Two generated 30-s titles: dub leading by +1.0 s and by -1.0 s (WAV dubs, FLAC originals)."""
    from ml.testmedia import DubSpec, TitleSpec, build_title

    root = tmp_path_factory.mktemp("peer_pairs")
    out = {}
    for offset, title in ((1.0, "lead"), (-1.0, "lag")):
        spec = TitleSpec(title, duration_s=30, dubs=(DubSpec("fr", offset_s=offset, codec="pcm_s16le"),), seed=SEED)
        build_title(root, spec)
        original, dub = root / title / "original.flac", root / title / "dubs" / "fr.wav"
        for path in (original, dub):
            assert _max_dc(path) < 0.01, f"{path} carries a DC offset: pick another SEED (see its docstring)"
        out[offset] = (original, dub)
    return out


def test_peer_list_is_consistent():
    assert set(peers.PEERS) <= set(peers.PEER_SPECS)
    for name in peers.PEERS:
        assert (peers.RUNNERS / f"{name}.py").is_file(), name
    with pytest.raises(ValueError, match="unknown peer"):
        peers.prepare_peer("no-such-peer")


@pytest.mark.parametrize("name", peers.PEERS)
@pytest.mark.parametrize("offset", [1.0, -1.0])
def test_peer_finds_offset_with_dubsync_sign(name, offset, pairs):
    original, dub = pairs[offset]
    result = peers.run_peer(name, original, dub, timeout_s=300)
    assert isinstance(result, peers.PeerResult)
    assert result.peer == name
    assert result.error is None, result.error
    assert result.offset_s is not None
    assert abs(result.offset_s - offset) <= TOLERANCE_S, f"{name}: {result.offset_s} for a true {offset:+}"
    assert 0.0 < result.seconds < 300


def test_peer_versions_reports_every_peer():
    versions = peers.peer_versions()
    assert set(versions) == set(peers.PEERS)
    for name, version in versions.items():
        assert version and "unknown" not in version, (name, version)


def test_answer_cache_reads_back_only_the_same_bytes(tmp_path):
    """A kept answer is read back by a new cache on the same bytes (the record a fresh clone starts from),
    missed when one file's bytes change, and not kept when the peer timed out (that depends on the load)."""
    original, dub = tmp_path / "original.wav", tmp_path / "dub.wav"
    original.write_bytes(b"original bytes")
    dub.write_bytes(b"dub bytes")
    record = tmp_path / "answers.jsonl"
    cache = peers.AnswerCache(record, root=tmp_path / "peers")
    cache.put("syncstart", original, dub, {"offset_s": 0.5, "seconds": 1.0, "error": None})
    cache.put("polysync", original, dub, {"offset_s": None, "seconds": 900.0, "error": "timed out after 900 s"})

    again = peers.AnswerCache(record, root=tmp_path / "peers")
    answer = again.get("syncstart", original, dub)
    assert answer["offset_s"] == 0.5 and answer["measured"]
    assert again.get("polysync", original, dub) is None
    assert peers.AnswerCache(record, root=tmp_path / "peers", read=False).get("syncstart", original, dub) is None

    dub.write_bytes(b"dub bytes, re-encoded")
    assert peers.AnswerCache(record, root=tmp_path / "peers").get("syncstart", original, dub) is None
