"""Figures and tables for QC operators: the per-frame offset timeline as a PNG."""

from __future__ import annotations

import base64
import io

import numpy as np

from ml.audio_sync.matching import FrameMatches

__all__ = ["lip_sync_png", "offset_timeline_png", "png_markdown", "verdict_model_lines"]


def verdict_model_lines(verdict) -> list[tuple[list[float], list[float]]]:
    """The verdict's timeline model as polylines ``(times_s, offsets_s)`` to draw: one line for a
    constant or a drift, one per segment for an intermittent offset, none when undetermined."""
    if verdict.offset_s is None or not verdict.segments:
        return []
    if verdict.kind == "intermittent":
        return [([s["start_s"], s["end_s"]], [s["offset_s"], s["offset_s"]]) for s in verdict.segments]
    first, last = verdict.segments[0], verdict.segments[-1]
    end = verdict.offset_end_s if verdict.offset_end_s is not None else verdict.offset_s
    return [([0.0, max(last["end_s"], first["start_s"])], [verdict.offset_s, end])]


def offset_timeline_png(
    matches: FrameMatches,
    *,
    title: str,
    track_offset_s: float | None = None,
    band: tuple[float, float] | None = None,
    model: list[tuple[list[float], list[float]]] | None = None,
    picture_offset_s: float | None = None,
) -> bytes:
    """Per-frame offset (ms) against dub time (s): matched frames, the track offset, a tolerance band.

    With ``picture_offset_s`` (the title's original audio ↔ picture offset) the figure shows both
    components, dub ↔ original per frame and original ↔ picture as a line, and their sum, dub ↔
    picture, which the band and the model refer to.

    Parameters
    ----------
    matches : FrameMatches
        Evidence to draw; unmatched frames are drawn faint.
    title : str
        Figure title.
    track_offset_s : float, optional
        Horizontal line at the track offset, seconds.
    band : (float, float), optional
        (lowest, highest) offset of the tolerance band to shade around 0, seconds.
    model : list of (times, offsets), optional
        Polylines of a fitted timeline model (see :func:`verdict_model_lines`), seconds.
    picture_offset_s : float, optional
        Original audio ↔ picture offset, seconds; the matches are dub ↔ original.

    Returns
    -------
    png : bytes
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=90)
    ax = fig.add_subplot()
    matched = matches.matched
    finite = np.isfinite(matches.offsets)
    rest = finite & ~matched
    shown = matches.offsets
    if picture_offset_s is None:
        ax.scatter(matches.dub_times[rest], matches.offsets[rest] * 1000, s=2, c="#cccccc",
                   label="unmatched (dialogue)", rasterized=True)
        ax.scatter(matches.dub_times[matched], matches.offsets[matched] * 1000, s=4, c="#1f77b4",
                   label="matched (M&E)", rasterized=True)
    else:
        shown = matches.offsets + picture_offset_s
        ax.scatter(matches.dub_times[matched], matches.offsets[matched] * 1000, s=2, c="#ff7f0e",
                   label="dub ↔ original (M&E frames)", rasterized=True)
        ax.axhline(picture_offset_s * 1000, color="#9467bd", lw=1.2, ls="--",
                   label=f"original ↔ picture {picture_offset_s * 1000:+.0f} ms (lip sync)")
        ax.scatter(matches.dub_times[matched], shown[matched] * 1000, s=4, c="#1f77b4",
                   label="dub ↔ picture (sum)", rasterized=True)
    if band is not None:
        ax.axhspan(band[0] * 1000, band[1] * 1000, color="#2ca02c", alpha=0.15, label="tolerance")
    if model:
        for i, (times, offsets) in enumerate(model):
            ax.plot(times, np.asarray(offsets) * 1000, color="#d62728", lw=1.5,
                    label="model" if i == 0 else None)
    elif track_offset_s is not None and np.isfinite(track_offset_s):
        ax.axhline(track_offset_s * 1000, color="#d62728", lw=1,
                   label=f"offset {track_offset_s * 1000:+.0f} ms")
    if matched.any():
        values = shown[matched] * 1000
        if picture_offset_s is not None:
            values = np.concatenate([values, matches.offsets[matched] * 1000])
        lo, hi = np.percentile(values, [2, 98])
        if band is not None:
            lo, hi = min(lo, band[0] * 1000), max(hi, band[1] * 1000)
        margin = max(100.0, 0.15 * (hi - lo))
        ax.set_ylim(lo - margin, hi + margin)
    ax.set_xlabel("dub time (s)")
    ax.set_ylabel("offset (ms, + = audio leads)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def lip_sync_png(picture, *, title: str) -> bytes:
    """Two panels (``picture``: a :class:`ml.picture.title_sync.PictureSync`):

    - offset against time: each face track as a bar at its offset (ms) over its time on screen,
      the tracks the title's offset was taken from solid, other speaking tracks hollow, tracks
      without a speaker faint; the title's offset as a line across the title;
    - each track's lip-sync score against the audio shift, the used tracks solid, the discarded
      ones faint, and the title's offset as a vertical line.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.6), dpi=90)
    ax_time, ax = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.2]})
    colours = [f"C{k % 10}" for k in range(len(picture.tracks))]
    for row, colour in zip(picture.tracks, colours):
        offset = row["offset_s"] * 1000
        agrees, used = row.get("agrees", False), row["used"]
        ax_time.plot([row["start_s"], row["end_s"]], [offset, offset], color=colour, lw=5 if agrees else 2.5,
                     alpha=1.0 if used else 0.3, solid_capstyle="butt")  # fmt: skip
        ax_time.plot([(row["start_s"] + row["end_s"]) / 2], [offset], "o", color=colour, ms=6,
                     mfc=colour if agrees else "white", alpha=1.0 if used else 0.3)  # fmt: skip
    if picture.offset_s is not None:
        ax_time.axhline(picture.offset_s * 1000, color="#d62728", lw=1.2, label=f"title {picture.offset_s * 1000:+.0f} ms")
        ax_time.legend(loc="best", fontsize=7)
    ax_time.set_xlabel("title time (s)")
    ax_time.set_ylabel("track offset (ms)")
    ax_time.set_title(f"{title}: offset per face track (filled: agreeing, hollow: other speakers, faint: no speaker)", fontsize=9)
    ax_time.grid(alpha=0.3)

    shifts = np.asarray(picture.shifts_s) * 1000
    for row, curve, colour in zip(picture.tracks, picture.curves, colours):
        label = f"track {row['track']} ({row['offset_s'] * 1000:+.0f} ms, conf {row['confidence']:.2f})"
        ax.plot(shifts, curve, color=colour, lw=1.3 if row["used"] else 0.8, alpha=1.0 if row["used"] else 0.35,
                label=label if row["used"] or len(picture.tracks) <= 6 else None)  # fmt: skip
    if picture.offset_s is not None:
        ax.axvline(picture.offset_s * 1000, color="#d62728", lw=1.2, label=f"title {picture.offset_s * 1000:+.0f} ms")
    ax.set_xlabel("audio shift (ms, + = audio leads)")
    ax.set_ylabel("lip-sync score")
    ax.set_title("score of each shift per face track", fontsize=9)
    ax.grid(alpha=0.3)
    if picture.tracks:
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown that shows a PNG inline (Dagster's ``MetadataValue.md``)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
