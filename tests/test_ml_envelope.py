"""The envelope matcher (a second dub ↔ original matcher) and its fusion with the signatures.

Continuous real speech over a music bed 6 dB under it (the talking-heads case of issue 22): the
signatures' matched frames disagree there, the band onsets of each stretch still hold the bed.
"""

import dataclasses

import numpy as np
import pytest

from ml.audio_sync.envelope import band_onsets, match_envelopes
from ml.audio_sync.matching import match_signatures
from ml.audio_sync.signatures import signature_from_audio, signature_from_file
from ml.audio_sync.verdict import decide
from ml.policy import MatchParams, Policy, SignatureParams
from ml.testmedia import DubSpec, TitleSpec, build_title, dialogue_intervals

POLICY = Policy()
OFFSETS = {"de": -1.3, "es": 0.7}


@pytest.fixture(scope="module")
def talking_heads(tmp_path_factory, real_media):
    """34 s of continuous real speech (English original; German and Spanish dubs) over a bed 6 dB
    under the dialogue."""
    root = tmp_path_factory.mktemp("talking_heads")
    dubs = tuple(DubSpec(lang, offset_s=off) for lang, off in OFFSETS.items())
    spec = TitleSpec(
        "talking_heads", duration_s=34.0, original_language="en", seed=21, me_level_db=-9.0,
        continuous_dialogue=True, dubs=dubs,
    )  # fmt: skip
    build_title(root, spec, real_media=real_media)
    folder = root / spec.title_id
    reference = signature_from_file(next(folder.glob("original.*")), role="reference")
    return {lang: signature_from_file(next(folder.glob(f"dubs/{lang}.*"))) for lang in OFFSETS}, reference


def test_continuous_dialogue_leaves_the_bed_alone_for_at_most_0_4_s():
    lines = dialogue_intervals(21, 0.0, 60.0, continuous=True)
    gaps = [b[0] - a[1] for a, b in zip(lines, lines[1:])]
    assert all(3.0 <= end - start <= 8.0 for start, end in lines[1:-1])
    assert max(gaps) <= 0.4 and sum(end - start for start, end in lines) >= 0.9 * 60.0
    assert lines != dialogue_intervals(21, 0.0, 60.0)  # the default keeps 1-4 s of M&E between lines


def test_speech_over_a_bed_6_db_down_is_aligned_by_the_envelope_matcher(talking_heads):
    dubs, reference = talking_heads
    truth = OFFSETS["de"]
    # the signatures alone do not decide: their matched frames disagree under continuous speech
    alone = MatchParams(envelope_matcher=False)
    verdict = decide(match_signatures(dubs["de"], reference, alone), match=alone, params=POLICY.verdict)
    assert verdict.kind == "undetermined" and "signatures: matched frames disagree" in verdict.reason
    # the envelope matcher's stretch finds the lag by itself, to a few ms
    stretches = match_envelopes(dubs["de"], reference, POLICY.match)
    assert stretches.accepted.any()
    assert np.all(np.abs(stretches.offsets[stretches.accepted] - truth) <= 0.005), stretches.offsets
    # and the fused verdict is the envelope matcher's
    verdict = decide(match_signatures(dubs["de"], reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "constant" and verdict.source == "envelope" and verdict.envelope_stretches >= 1
    assert abs(verdict.offset_s - truth) <= 0.005, verdict.offset_s
    assert "from the envelope matcher" in verdict.reason and "signatures being inconclusive" in verdict.reason


def test_the_fused_verdict_names_both_sources(talking_heads):
    dubs, reference = talking_heads
    truth = OFFSETS["es"]
    verdict = decide(match_signatures(dubs["es"], reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "constant" and abs(verdict.offset_s - truth) <= 0.005
    # the signatures decide, and the reason says what the envelope matcher found beside them
    assert verdict.source == "signatures"
    assert "signatures decide; envelope matcher: 1 of 1 accepted stretches agree within 50 ms" in verdict.reason


def test_band_onsets_are_standardised_rises_per_band(rng):
    y = (rng.normal(0, 0.05, 44100 * 6) * np.repeat(rng.uniform(0.1, 1.0, 60), 4410)).astype(np.float32)
    signature = signature_from_audio(y, sample_rate=44100)
    onsets = band_onsets(signature)
    assert onsets.shape == (signature.n_frames, SignatureParams().envelope_bands)
    assert np.allclose(onsets.mean(axis=0), 0.0, atol=1e-4) and np.allclose(onsets.std(axis=0), 1.0, atol=1e-3)
    # one byte a band and frame, beside the signature; without bands, no envelope and no stretches
    assert signature.envelope_codes.dtype == np.uint8
    without = signature_from_audio(y, sample_rate=44100, params=dataclasses.replace(SignatureParams(), envelope_bands=0))
    assert without.envelope_codes is None and without.envelope_nbytes == 0
    assert without.nbytes == without.codes_nbytes == signature.codes_nbytes == signature.nbytes - signature.envelope_nbytes
    assert len(match_envelopes(without, without, POLICY.match).offsets) == 0
