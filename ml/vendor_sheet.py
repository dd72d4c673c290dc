"""The sheet a dubbing vendor receives for one title × language: the verdict, the correction and the
offset timeline plot, as one self-contained HTML file (the plot embedded as a base64 PNG)."""

from __future__ import annotations

import base64
import html

__all__ = ["vendor_sheet_html"]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:+.1f} ms"


def vendor_sheet_html(title: str, language: str, verdict, plot_png: bytes, *, generated: str = "") -> str:
    """One HTML page for the vendor.

    Parameters
    ----------
    title, language : str
        The partition.
    verdict : Verdict
        The dub's verdict (:class:`ml.audio_sync.verdict.Verdict`).
    plot_png : bytes
        The offset timeline (:func:`ml.report.offset_timeline_png`).
    generated : str
        When and by which run the verdict was made, shown at the foot.

    Returns
    -------
    str
        A complete HTML document.
    """
    reference = "the picture" if verdict.reference == "picture" else "the original audio"
    rows = [
        ("Verdict", verdict.kind.replace("_", " ")),
        ("In sync", "yes" if verdict.in_sync else "no"),
        (f"Offset against {reference}", f"{_ms(verdict.offset_s)} (positive = the dub's audio is early)"),
        ("Offset at the end", _ms(verdict.offset_end_s)),
        ("ITU-R BT.1359 band", verdict.band),
        ("Correction", verdict.correction),
        ("Reason", verdict.reason),
        ("Evidence", f"{verdict.matched_frames} matched frames, {verdict.coverage:.0%} of the dub covered"),
    ]
    if verdict.drift_ppm is not None:
        rows.insert(4, ("Drift", f"{verdict.drift_ppm:+.0f} ppm; play at {verdict.correction_speed_ratio:.6f}× speed"))
    if verdict.kind == "intermittent":
        parts = [f"{s['start_s']:.0f}–{s['end_s']:.0f} s: {s['offset_s'] * 1000:+.0f} ms" for s in verdict.segments]
        rows.insert(4, ("Stretches", "; ".join(parts)))
    if verdict.original_to_picture_s is not None:
        rows.append(("Original audio vs picture (lip sync)", _ms(verdict.original_to_picture_s)))
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    image = base64.b64encode(plot_png).decode()
    heading = html.escape(f"{title} / {language}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}: sync report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}th{{text-align:left;padding-right:1em;
vertical-align:top}}td,th{{padding:.2em .5em}}img{{max-width:100%}}</style></head>
<body><h1>{heading}: audio sync</h1>
<table>
{table}
</table>
<h2>Offset timeline</h2>
<img alt="offset timeline" src="data:image/png;base64,{image}">
<p><small>{html.escape(generated)}</small></p>
</body></html>
"""
