"""What the benchmarks share: their folders, the machine line and report writing, and the
decode-only baselines that every speed figure is a ratio to (measured in the same run)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from ml.testmedia.material import real_media_folder

__all__ = [
    "CACHE",
    "DECODE_THREADS",
    "MEDIA",
    "RESULTS",
    "ROOT",
    "decode_audio_seconds",
    "decode_video_seconds",
    "machine",
    "talking_head",
    "write_report",
]

ROOT = Path(__file__).resolve().parents[1]
MEDIA = real_media_folder()
"""The real clips (the repository's ``media/``, or ``$DUBSYNC_REAL_MEDIA``)."""
CACHE = ROOT / "benchmarks" / ".cache"
"""Generated material, one folder per benchmark (ignored by git; rebuilt when missing)."""
RESULTS = ROOT / "benchmarks" / "results"
"""Each run's report as JSON and markdown (ignored by git; dated results go to the README)."""
DECODE_THREADS = 2
"""Decoder threads of the video baseline, as the detectors decode (on 2 cores FFmpeg's automatic
count, 3, decodes about 1.35× slower than 2 and would flatter every ratio)."""


def talking_head(name: str) -> Path:
    """The shared talking head called ``name`` (its file name or stem: ``face_1.mp4``, ``lbax4n``),
    in any source folder of ``MEDIA/talking_heads``."""
    for path in (MEDIA / "talking_heads").glob("*/*"):
        if path.stem == name or path.name == name:
            return path
    raise SystemExit(f"no talking head {name!r}")


def machine() -> str:
    """The line every report carries about where it ran."""
    return f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores"


def write_report(name: str, report: dict, markdown: str, *, out: Path = RESULTS) -> Path:
    """Write ``<out>/<name>.json`` and ``<out>/<name>.md``; return the markdown file."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    path = out / f"{name}.md"
    path.write_text(markdown)
    return path


def decode_audio_seconds(path: Path, sample_rate: int) -> float:
    """Seconds to decode a track as the signatures do (mono float32 at ``sample_rate``, in blocks)."""
    from ml.decoding.audio import iter_audio_blocks

    started = time.perf_counter()
    for _ in iter_audio_blocks(path, sample_rate=sample_rate):
        pass
    return time.perf_counter() - started


def decode_video_seconds(path: Path, *, deblock: bool = True, min_lines: int | None = None, with_audio: bool = False) -> tuple[float, int]:
    """Seconds to decode every frame of the first video stream (``DECODE_THREADS`` threads, no
    conversion) and the number of frames; ``deblock=False`` skips the codec's in-loop deblocking
    filter and ``min_lines`` decodes at a reduced size where the codec can
    (:func:`ml.decoding.video.set_decoder_options`), as the shot detector decodes; ``with_audio`` also
    decodes the whole first audio track."""
    import av

    from ml.decoding.video import set_decoder_options

    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = DECODE_THREADS
        set_decoder_options(stream, deblock=deblock, min_lines=min_lines)
        n = sum(1 for _ in container.decode(stream))
    if with_audio:
        with av.open(str(path)) as container:
            for _ in container.decode(audio=0):
                pass
    return time.perf_counter() - started, n


def x264_copy(source: Path, out: Path, options: dict[str, str], recode) -> Path:
    """``out``, a re-encode of ``source``'s first video stream (cached: made again only when missing
    or older than ``source``): ``recode(container, stream)`` gives its (frame rate, time base, PyAV
    frames) from the open source; x264 with ``options``, 4:2:0 at the source's size, MP4, written
    under a temporary name and renamed when complete."""
    import av

    from ml.testmedia.bad_picture import encode_into

    if out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    partial = out.with_suffix(".part.mp4")
    with av.open(str(source)) as container, av.open(str(partial), "w", format="mp4") as target:
        video_in = container.streams.video[0]
        rate, time_base, frames = recode(container, video_in)
        video = target.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = video_in.codec_context.width, video_in.codec_context.height, "yuv420p"
        video.codec_context.time_base = time_base
        video.options = options
        encode_into(target, video, frames)
    partial.rename(out)
    return out
