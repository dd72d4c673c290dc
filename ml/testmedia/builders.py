"""Test-media builders: a title folder of the landing zone with its ground truth (:func:`build_title`),
a whole landing zone (:func:`build_landing_zone`), the demo's titles (:func:`demo_specs`) and the
command line (``python -m ml.testmedia <root> --demo``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ml.testmedia.material import MediaSources
from ml.testmedia.remix import Remix
from ml.testmedia.specs import CODEC_EXTENSIONS, CROSSFADE_S, MARGIN_S, DubSpec, TitleSpec, _check_codec_rate
from ml.testmedia.stems import _ChannelMapper, _iter_mapped, _render_bed, _render_dialogue
from ml.testmedia.truth import dialogue_intervals, dub_segments
from ml.testmedia.writers import AudioWriter

# --------------------------------------------------------------------------- building


def _time_stretched(
    arrays: tuple[np.ndarray, np.ndarray],
    i0: int,
    sr: int,
    *,
    segments: Sequence[tuple[float, float, float]],
    ratio: float,
    sr_out: int,
    n_out: int,
) -> list[np.ndarray]:
    """As :func:`ml.testmedia.stems._iter_mapped`, with the speed change made by a phase vocoder
    that keeps the pitch: the stems are mapped at speed 1 (dub time scaled by ``ratio``), then each
    row is time-stretched by ``ratio``. Output sample j is still the stems at reference time
    ``ratio * j / sr_out + offset``. In memory (test titles are minutes long); shape (3, n_out)."""
    import librosa

    scaled = [(a * ratio, b * ratio, off) for a, b, off in segments]
    n_in = math.ceil(n_out * ratio) + 1
    rows = np.concatenate(list(_iter_mapped(arrays, i0, sr, segments=scaled, ratio=1.0, sr_out=sr_out, n_out=n_in)), axis=1)
    stretched = np.stack([librosa.effects.time_stretch(row, rate=ratio, n_fft=2048) for row in rows]).astype(np.float32)
    out = np.zeros((3, n_out), dtype=np.float32)
    m = min(n_out, stretched.shape[1])
    out[:, :m] = stretched[:, :m]
    return [out[:, k : k + (1 << 16)] for k in range(0, n_out, 1 << 16)]


def _ramp(length: int, fade: int) -> np.ndarray:
    """A linear fade-in over ``fade`` samples, then 1 [shape=(length,), float32]."""
    return np.minimum(1.0, (np.arange(length, dtype=np.float32) + 1) / max(1, fade)).astype(np.float32)


def _timeline(spec: TitleSpec) -> tuple[float, float]:
    """Reference-time range (s) the stems must cover for the original and every dub."""
    lo, hi = 0.0, spec.duration_s
    for dub in spec.dubs:
        for a, b, off in dub_segments(dub, spec.duration_s):
            lo = min(lo, dub.speed_ratio * a + off)
            hi = max(hi, dub.speed_ratio * b + off)
    return lo - MARGIN_S, hi + MARGIN_S


def _clear_title_dir(folder: Path) -> None:
    """Remove files a previous build may have left (only names the generator writes)."""
    exts = set(CODEC_EXTENSIONS.values())
    for p in list(folder.glob("original.*")) + list((folder / "dubs").glob("*.*")):
        if p.suffix in exts and p.is_file():
            p.unlink()
    if (folder / "title.json").is_file():
        (folder / "title.json").unlink()


def _write_program(
    path: Path,
    arrays: tuple[np.ndarray, np.ndarray],
    i0: int,
    sr: int,
    *,
    segments: Sequence[tuple[float, float, float]],
    ratio: float,
    sr_out: int,
    n_out: int,
    gain_db: float,
    channels: int,
    codec: str,
    bitrate: int | None,
    opening: np.ndarray | None = None,
    opening_s: float = 0.0,
    credits: np.ndarray | None = None,
    pitch_kept: bool = False,
    me_remix: tuple[str, ...] = (),
    me_gain_db: float = 0.0,
) -> None:
    """Render stems through the dub-time mapping and encode them to ``path``."""
    mapper = _ChannelMapper(channels, sr_out)
    gain = np.float32(10 ** (gain_db / 20))
    fade = int(CROSSFADE_S * sr_out)
    cut = round(opening_s * sr_out)
    remix = Remix(me_remix, sr_out) if me_remix else None
    me_gain = np.float32(10 ** (me_gain_db / 20))
    j = 0
    with AudioWriter(path, sr_out, channels, codec=codec, bitrate=bitrate) as writer:
        if pitch_kept and ratio != 1.0:
            chunks = _time_stretched(arrays, i0, sr, segments=segments, ratio=ratio, sr_out=sr_out, n_out=n_out)
        else:
            chunks = _iter_mapped(arrays, i0, sr, segments=segments, ratio=ratio, sr_out=sr_out, n_out=n_out)
        for chunk in chunks:
            m = chunk.shape[1]
            if remix is not None:
                chunk[:2] = remix(chunk[:2])
            if me_gain != 1:
                chunk[:2] *= me_gain
            if opening is not None and j < cut + fade:
                k = min(m, cut + fade - j)
                idx = np.arange(j, j + k)
                theta = np.clip((idx - cut) / fade, 0.0, 1.0) * (0.5 * np.pi)
                alt = np.zeros((2, k), dtype=np.float32)
                avail = max(0, min(k, opening.shape[1] - j))
                alt[:, :avail] = opening[:, j : j + avail]
                chunk[:2, :k] = chunk[:2, :k] * np.sin(theta).astype(np.float32) + alt * np.cos(theta).astype(np.float32)
            chunk *= gain
            writer.write(mapper(chunk))
            j += m
        if credits is not None:  # appended after the programme, with a 10-ms fade in
            music = credits * _ramp(credits.shape[1], int(0.01 * sr_out)) * gain
            rows = np.zeros((3, music.shape[1]), dtype=np.float32)
            rows[:2] = music
            writer.write(mapper(rows))


def build_title(root: Path, spec: TitleSpec, *, real_media: Path | None = None) -> dict:
    """Write one title's files under ``root/<title_id>/`` and return its ground truth.

    Parameters
    ----------
    root : Path
        Landing-zone root.
    spec : TitleSpec
    real_media : Path, optional
        Folder with ``music/`` and ``speech/``; default ``$DUBSYNC_REAL_MEDIA`` or
        the repository's ``media/``.  Missing folders fall back to synthetic material.

    Returns
    -------
    dict
        ``{"original_language", "duration_s", "dubs": {lang: DubSpec.truth() + {"file"}},
        "original_file", "sample_rate", "seed", "me_level_db", "dialogue_lines"}``;
        ``dialogue_lines`` are the ``[start_s, end_s]`` reference intervals of the lines
        that overlap ``[0, duration_s]`` (the same in every language).
    """
    if not isinstance(spec, TitleSpec):
        raise ValueError(f"spec must be a TitleSpec, got {spec!r}")
    sources = MediaSources.resolve(real_media)
    _check_codec_rate(spec.original_codec, spec.sample_rate, name="TitleSpec.sample_rate")
    for dub in spec.dubs:
        _check_codec_rate(dub.codec, dub.sample_rate, name=f"dub {dub.language!r} sample_rate")

    folder = Path(root) / spec.title_id
    (folder / "dubs").mkdir(parents=True, exist_ok=True)
    _clear_title_dir(folder)
    sr = spec.sample_rate
    lo, hi = _timeline(spec)
    i0 = math.floor(lo * sr)
    n = math.ceil(hi * sr) - i0
    bed = _render_bed((spec.seed,), i0, n, sr, sources, level_db=spec.me_level_db)

    dia = _render_dialogue(spec.seed, spec.original_language, i0, n, sr, sources, continuous=spec.continuous_dialogue)
    original = folder / f"original{spec.original_extension}"
    _write_program(
        original, (bed, dia), i0, sr,
        segments=[(0.0, spec.duration_s, 0.0)], ratio=1.0, sr_out=sr, n_out=round(spec.duration_s * sr),
        gain_db=0.0, channels=spec.original_channels, codec=spec.original_codec, bitrate=None,
    )  # fmt: skip
    truth_dubs: dict[str, dict] = {}
    dia_language = spec.original_language
    for dub in spec.dubs:
        if dub.language != dia_language:
            dia = None  # free the previous stem before rendering the next one
            dia = _render_dialogue(spec.seed, dub.language, i0, n, sr, sources, continuous=spec.continuous_dialogue)
            dia_language = dub.language
        opening = None
        if dub.localized_opening_s > 0:
            length = math.ceil((dub.localized_opening_s + CROSSFADE_S) * dub.sample_rate)
            opening = _render_bed(
                (spec.seed, "opening", dub.language), 0, length, dub.sample_rate, sources,
                level_db=spec.me_level_db, effects=False,
            )  # fmt: skip
        credits = None
        if dub.appended_credits_s > 0:
            credits = _render_bed(
                (spec.seed, "credits", dub.language), 0, math.ceil(dub.appended_credits_s * dub.sample_rate),
                dub.sample_rate, sources, level_db=spec.me_level_db, effects=False,
            )  # fmt: skip
        path = folder / "dubs" / f"{dub.language}{dub.extension}"
        _write_program(
            path, (bed, dia), i0, sr,
            segments=dub_segments(dub, spec.duration_s), ratio=dub.speed_ratio, sr_out=dub.sample_rate,
            n_out=round(spec.duration_s / dub.speed_ratio * dub.sample_rate), gain_db=dub.gain_db,
            channels=dub.channels, codec=dub.codec, bitrate=dub.bitrate,
            opening=opening, opening_s=dub.localized_opening_s, credits=credits, pitch_kept=dub.pitch_kept,
            me_remix=dub.me_remix, me_gain_db=dub.me_gain_db,
        )  # fmt: skip
        truth_dubs[dub.language] = dub.truth() | {"file": f"dubs/{path.name}"}
    (folder / "title.json").write_text(json.dumps({"original_language": spec.original_language}) + "\n")
    return {
        "original_language": spec.original_language,
        "duration_s": float(spec.duration_s),
        "dubs": truth_dubs,
        "original_file": original.name,
        "sample_rate": int(sr),
        "seed": int(spec.seed),
        "me_level_db": float(spec.me_level_db),
        "dialogue_lines": [
            [round(a, 6), round(b, 6)]
            for a, b in dialogue_intervals(spec.seed, 0.0, spec.duration_s, continuous=spec.continuous_dialogue)
        ],
    }


def build_landing_zone(
    root: Path,
    specs: Sequence[TitleSpec],
    *,
    real_media: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Build every title, write ``root/ground_truth.json`` and return it.

    Parameters
    ----------
    root : Path
        Landing-zone root (created if missing).
    specs : sequence of TitleSpec
        Titles with distinct ``title_id``.
    real_media : Path, optional
        See :func:`build_title`.
    progress : callable, optional
        Called with a short message per title.

    Returns
    -------
    dict
        ``{"titles": {title_id: build_title(...)}}``, also written to ``ground_truth.json``.
    """
    specs = list(specs)
    ids = [s.title_id for s in specs if isinstance(s, TitleSpec)]
    if len(ids) != len(specs):
        raise ValueError("specs must hold TitleSpec objects")
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate title_id values: {dupes}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    truth: dict = {"titles": {}}
    for number, spec in enumerate(specs, 1):
        started = time.perf_counter()
        truth["titles"][spec.title_id] = build_title(root, spec, real_media=real_media)
        if progress is not None:
            progress(
                f"[{number}/{len(specs)}] {spec.title_id}: {spec.duration_s:g} s, "
                f"{len(spec.dubs)} dub(s), {time.perf_counter() - started:.1f} s"
            )
    (root / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def demo_specs() -> list[TitleSpec]:
    """The demo landing zone: four 60-120 s titles with two dubs each.

    Covers: a dub leading by 0.8 s, one exactly in sync, a small in-tolerance offset
    (-0.04 s), a large lag (-12 s), AAC 48 kHz 5.1, AC-3 128 kbit/s, an MP3 with a reel
    change, a 24 ↔ 23.976 fps speed change (drift of 1001 ppm), a localised opening and a
    dialogue-heavy title. (A PAL speed-up, 25/24, shifts the pitch by 4 % and needs the speed
    search of the benchmark issue; it is not in the demo yet.)
    """
    return [
        TitleSpec(
            "harbour_lights", duration_s=90.0, original_language="en", seed=101,
            dubs=(
                DubSpec("de", offset_s=0.8),
                DubSpec("fr", offset_s=0.0, sample_rate=48000, channels=6, codec="aac", bitrate=256000),
            ),
        ),
        TitleSpec(
            "northern_line", duration_s=120.0, original_language="en", seed=202,
            dubs=(
                DubSpec("es", offset_s=-0.04, codec="pcm_s16le", sample_rate=48000),
                DubSpec("ru", offset_s=-12.0, codec="ac3", bitrate=128000, sample_rate=48000),
            ),
        ),
        TitleSpec(
            "el_verano", duration_s=75.0, original_language="es", seed=303, original_channels=6,
            dubs=(
                DubSpec("en", codec="mp3", bitrate=192000, jumps=((40.0, 0.5),)),
                DubSpec("de", offset_s=-0.1, speed_ratio=24 / 23.976, gain_db=-4.0),
            ),
        ),
        TitleSpec(
            "quiet_room", duration_s=60.0, original_language="ru", seed=404, me_level_db=-25.0,
            dubs=(
                DubSpec("en", offset_s=0.12, channels=1),
                DubSpec("fr", localized_opening_s=12.0, gain_db=3.0),
            ),
        ),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ml.testmedia <root> [--demo] [--seed N] [--real-media DIR]``.

    Builds the demo landing zone (:func:`demo_specs`, every seed shifted by ``--seed``)
    under ``root`` and prints a summary.  Returns the exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m ml.testmedia", description="Build a generated landing zone.")
    parser.add_argument("root", type=Path, help="landing-zone folder to write")
    parser.add_argument("--demo", action="store_true", help="build the demo titles (the default and only set)")
    parser.add_argument("--seed", type=int, default=0, help="added to every title's seed (default 0)")
    parser.add_argument("--real-media", type=Path, default=None, help="folder with music/ and speech/")
    args = parser.parse_args(argv)
    specs = [replace(s, seed=s.seed + args.seed) for s in demo_specs()]
    started = time.perf_counter()
    truth = build_landing_zone(
        args.root, specs, real_media=args.real_media, progress=lambda msg: print(msg, file=sys.stderr)
    )
    for title_id, title in truth["titles"].items():
        dubs = ", ".join(
            f"{lang}: {d['offset_s']:+g} s {d['codec']} {d['sample_rate']} Hz {d['channels']} ch"
            + (f" x{d['speed_ratio']:.6g}" if d["speed_ratio"] != 1 else "")
            + (f" jumps {d['jumps']}" if d["jumps"] else "")
            for lang, d in title["dubs"].items()
        )
        print(f"{title_id} ({title['original_language']}, {title['duration_s']:g} s): {dubs}")
    print(f"wrote {args.root / 'ground_truth.json'} in {time.perf_counter() - started:.1f} s")
    return 0

