"""The verdict a QC operator reads: is the dub in sync, by how much, what kind of error, the fix.

Offsets in seconds, positive = the dub's audio leads. Tolerance bands after ITU-R BT.1359:
undetectable from −125 ms (lag) to +45 ms (lead), acceptable from −185 ms to +90 ms; the binary
decision is the paper's: out of sync when |offset| > 0.2 s. All of these come from
:class:`ml.policy.VerdictParams`.

A verdict is never "in sync" without evidence: too few matched frames, too little of the track
covered, or matched frames that disagree give ``undetermined`` with the reason.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ml.matching import FrameMatches
from ml.policy import MatchParams, VerdictParams, params_version

__all__ = ["ALGORITHM", "KINDS", "BANDS", "Verdict", "itu_band", "decide", "verdict_version"]

ALGORITHM = "verdict/1"
KINDS = ("in_sync", "constant", "drift", "intermittent", "undetermined")
BANDS = ("undetectable", "acceptable", "unacceptable", "unknown")


def verdict_version(match: MatchParams, verdict: VerdictParams) -> str:
    """``code_version`` of the verdict asset: it selects its evidence with θ_min_dist and judges it
    with the verdict tolerances."""
    return params_version(ALGORITHM, match, verdict)


@dataclass(frozen=True)
class Verdict:
    """The verdict for one dub.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    offset_s : float or None
        Offset of the dub (positive = audio leads), seconds; ``None`` when undetermined.
    in_sync : bool
        ``|offset_s| <= out_of_sync_s``; always False when undetermined.
    band : str
        ITU-R BT.1359 band of the offset, one of :data:`BANDS`.
    correction_shift_s : float or None
        Move the dub's audio by this many seconds along its timeline to correct it (positive =
        later, i.e. delay it); ``None`` when undetermined.
    correction : str
        The correction in words.
    reason : str
        Why the verdict is what it is (always set for ``undetermined``).
    reference : str
        What the offset is relative to: ``"original_audio"`` (or ``"picture"``).
    matched_frames, coverage, spread_s, agreement :
        The evidence (see :class:`ml.matching.FrameMatches`).
    drift_ppm : float or None
        Rate of a drift in parts per million (``kind == "drift"`` only).
    """

    kind: str
    offset_s: float | None
    in_sync: bool
    band: str
    correction_shift_s: float | None
    correction: str
    reason: str
    reference: str
    matched_frames: int
    coverage: float
    spread_s: float
    agreement: float
    drift_ppm: float | None = None

    @property
    def offset_ms(self) -> float | None:
        return None if self.offset_s is None else round(self.offset_s * 1000.0, 1)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["offset_ms"] = self.offset_ms
        for key in ("coverage", "spread_s", "agreement"):
            if isinstance(data[key], float) and not math.isfinite(data[key]):
                data[key] = None
        return data


def itu_band(offset_s: float, params: VerdictParams) -> str:
    """ITU-R BT.1359 band of an offset (positive = audio leads)."""
    if offset_s is None or not math.isfinite(offset_s):
        return "unknown"
    if -params.undetectable_lag_s <= offset_s <= params.undetectable_lead_s:
        return "undetectable"
    if -params.acceptable_lag_s <= offset_s <= params.acceptable_lead_s:
        return "acceptable"
    return "unacceptable"


def describe_correction(shift_s: float) -> str:
    """Words for a correction shift (positive = delay the dub)."""
    ms = abs(shift_s) * 1000.0
    if ms < 0.5:
        return "none"
    return f"{'delay' if shift_s > 0 else 'advance'} the dub audio by {ms:.0f} ms"


def decide(
    matches: FrameMatches,
    *,
    match: MatchParams,
    params: VerdictParams,
    reference: str = "original_audio",
) -> Verdict:
    """Judge a dub from its frame matches.

    Parameters
    ----------
    matches : FrameMatches
        Per-frame evidence; its frames are re-selected with ``match.theta_min_dist``.
    match : MatchParams
        The policy's matching parameters (θ_min_dist selects the evidence).
    params : VerdictParams
        Tolerances and evidence requirements.
    reference : str
        What the offset is relative to, for the report.
    """
    matches = dataclasses.replace(matches, theta_min_dist=match.theta_min_dist)
    evidence = dict(
        matched_frames=matches.n_matched,
        coverage=matches.coverage,
        spread_s=matches.spread_s,
        agreement=matches.agreement,
    )
    problems = []
    if matches.n_matched < params.min_matched_frames:
        problems.append(
            f"only {matches.n_matched} dub frames match the original's music and effects "
            f"(need {params.min_matched_frames}): the dub may not share the original's M&E, or its "
            f"offset exceeds the ±{match.search_window_s:g} s search window"
        )
    elif matches.coverage < params.min_coverage:
        problems.append(
            f"matched frames cover {matches.coverage:.0%} of the dub (need {params.min_coverage:.0%})"
        )
    elif matches.agreement < params.min_agreement:
        problems.append(
            f"matched frames disagree: {matches.agreement:.0%} within one frame of the median "
            f"(need {params.min_agreement:.0%}, spread {matches.spread_s * 1000:.0f} ms); the offset "
            "may change along the track"
        )
    if problems:
        return Verdict(
            kind="undetermined",
            offset_s=None,
            in_sync=False,
            band="unknown",
            correction_shift_s=None,
            correction="none: too little evidence to correct",
            reason="; ".join(problems),
            reference=reference,
            **evidence,
        )
    offset = matches.offset_s
    in_sync = abs(offset) <= params.out_of_sync_s
    band = itu_band(offset, params)
    shift = offset
    lead = "leads" if offset > 0 else "lags"
    reason = (
        f"dub {lead} by {abs(offset) * 1000:.0f} ms ({band}); "
        f"{'within' if in_sync else 'beyond'} the ±{params.out_of_sync_s * 1000:.0f} ms sync limit"
    )
    return Verdict(
        kind="in_sync" if in_sync else "constant",
        offset_s=offset,
        in_sync=in_sync,
        band=band,
        correction_shift_s=shift,
        correction=describe_correction(shift),
        reason=reason,
        reference=reference,
        **evidence,
    )
