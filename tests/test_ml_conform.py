"""Conforming a dub from its verdict (``ml.audio_sync.conform``): generated dubs with a known
constant offset, drift and reel-change jump are corrected, re-checked with the project's own
signature, matching and verdict code, and kept only when they re-check in sync within 5 ms."""

import dataclasses
import hashlib
import re

import numpy as np
import pytest

from ml.audio_sync.conform import conform_dub, plan_conform, refusal
from ml.audio_sync.matching import match_with_speed_search
from ml.audio_sync.signatures import signature_from_file
from ml.audio_sync.verdict import decide
from ml.decoding.audio import load_audio, probe_audio
from ml.errors import ConformError, MediaError
from ml.policy import Policy, VerdictParams

DURATION_S = 60.0


@pytest.fixture(scope="module")
def title(tmp_path_factory, real_media):
    """A 60-s title: de leads by 0.8 s (FLAC), es drifts 1001 ppm from −0.1 s, en jumps from 0 to
    +0.5 s at 30 s (MP3), fr lags 0.3 s (AAC 48 kHz 5.1); with each dub's verdict and matches."""
    from ml.testmedia import DubSpec, TitleSpec, build_title

    root = tmp_path_factory.mktemp("conform")
    spec = TitleSpec(
        "reel", duration_s=DURATION_S, seed=11,
        dubs=(
            DubSpec("de", offset_s=0.8),
            DubSpec("es", offset_s=-0.1, speed_ratio=24 / 23.976),
            DubSpec("en", codec="mp3", bitrate=192000, jumps=((30.0, 0.5),)),
            DubSpec("fr", offset_s=-0.3, sample_rate=48000, channels=6, codec="aac", bitrate=256000),
        ),
    )  # fmt: skip
    build_title(root, spec, real_media=real_media)
    policy = Policy()
    folder = root / "reel"
    original = next(folder.glob("original.*"))
    reference = signature_from_file(original, policy.signature, role="reference")
    dubs = {}
    for path in sorted((folder / "dubs").iterdir()):
        signature = signature_from_file(path, policy.signature)
        matches = match_with_speed_search(
            signature, reference, policy.match, min_matched_frames=policy.verdict.min_matched_frames,
            resignature=lambda speed, path=path: signature_from_file(path, policy.signature, speed=speed),
        )  # fmt: skip
        dubs[path.stem] = (path, decide(matches, match=policy.match, params=policy.verdict), matches)
    return reference, dubs, policy


@pytest.mark.parametrize(
    ("language", "kind"), [("de", "constant"), ("es", "drift"), ("en", "intermittent"), ("fr", "constant")]
)
def test_a_conformed_dub_rechecks_in_sync_within_5_ms(title, tmp_path, language, kind):
    reference, dubs, policy = title
    path, verdict, matches = dubs[language]
    assert verdict.kind == kind
    result = conform_dub(
        path, tmp_path / language, verdict, reference=reference, picture=None, policy=policy,
        original_duration_s=reference.duration_s, matches=matches,
    )  # fmt: skip
    assert result.status == "conformed", result.reason
    assert result.residual["kind"] == "in_sync"
    # at the start and at the end (a drift's residual would grow along the dub)
    assert abs(result.residual_start_s) <= 0.005 and abs(result.residual_end_s) <= 0.005
    assert abs(result.residual["offset_s"]) <= 0.005
    # the dub's own rate and layout, lossless, the original's programme length
    source, written = probe_audio(path), probe_audio(result.path)
    assert (written.sample_rate, written.channels) == (source.sample_rate, source.channels)
    assert written.codec == "flac" and result.path.endswith(".flac")
    samples, _ = load_audio(result.path, sample_rate=written.sample_rate)
    assert abs(len(samples) / written.sample_rate - reference.duration_s) <= 1 / written.sample_rate
    assert [p.name for p in tmp_path.iterdir()] == [f"{language}.flac"]  # no temporary left


def test_a_jump_is_joined_at_the_cut_with_its_material_in_place(title, tmp_path):
    reference, dubs, policy = title
    path, verdict, matches = dubs["en"]
    result = conform_dub(
        path, tmp_path / "en", verdict, reference=reference, picture=None, policy=policy,
        original_duration_s=reference.duration_s, matches=matches,
    )  # fmt: skip
    # one offset along the whole conformed dub: the jump is gone, not averaged
    assert len(result.residual["segments"]) == 1
    shifts = r"2 stretches joined: (delayed|advanced) [0-4]\.\d ms, delayed (49\d|50\d)\.\d ms"
    assert re.match(shifts, result.correction), result.correction


def test_in_sync_and_undetermined_dubs_are_not_conformed(title, tmp_path):
    reference, dubs, policy = title
    path, verdict, matches = dubs["de"]
    undetermined = dataclasses.replace(verdict, kind="undetermined", offset_s=None, reason="only 3 dub frames match")
    result = conform_dub(path, tmp_path / "de", undetermined, reference=reference, picture=None, policy=policy,
                         original_duration_s=reference.duration_s)  # fmt: skip
    assert result.status == "not_conformed" and "only 3 dub frames match" in result.reason
    assert "undetermined" in refusal(undetermined)
    in_sync = dataclasses.replace(verdict, kind="in_sync", offset_s=0.01, in_sync=True)
    assert "nothing to conform" in refusal(in_sync)
    with pytest.raises(ConformError, match="undetermined"):
        plan_conform(undetermined, sample_rate=44100, dub_samples=44100 * 60, dub_start_s=0.0,
                     original_duration_s=60.0, max_padding_s=10.0)  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_a_conform_that_pads_more_than_the_policy_allows_is_refused(title, tmp_path):
    reference, dubs, policy = title
    path, verdict, matches = dubs["de"]  # leads by 0.8 s: 0.8 s of silence before it
    strict = dataclasses.replace(policy, verdict=dataclasses.replace(policy.verdict, max_length_mismatch_s=0.5))
    with pytest.raises(ConformError, match="pad 0.8 s of silence"):
        conform_dub(path, tmp_path / "de", verdict, reference=reference, picture=None, policy=strict,
                    original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
    assert not list(tmp_path.iterdir())
    assert VerdictParams().max_length_mismatch_s == 10.0


def test_a_conform_that_does_not_recheck_in_sync_leaves_nothing(title, tmp_path):
    reference, dubs, policy = title
    path, verdict, matches = dubs["de"]
    # a verdict 40 ms off its dub's true offset: the conform is 40 ms out and its re-check says so
    wrong = dataclasses.replace(verdict, offset_s=verdict.offset_s - 0.04)
    with pytest.raises(ConformError, match=r"discarded: re-check: in_sync, \+(39|40)\.\d ms at the start"):
        conform_dub(path, tmp_path / "de", wrong, reference=reference, picture=None, policy=policy,
                    original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("language", ["de", "es", "en", "fr"])
def test_the_recheck_judges_the_samples_the_written_file_decodes_to(title, tmp_path, language, monkeypatch):
    """The re-check computes the conformed dub's signature from its samples as they are written, not
    by decoding the file again: the file decodes to exactly those samples, and their signature is
    the one the file's own decode gives, bit for bit (FLAC stereo, a drift, MP3 with a jump, AAC 5.1
    at 48 kHz)."""
    from ml.audio_sync import conform

    reference, dubs, policy = title
    path, verdict, matches = dubs[language]
    checked, signatures = [], []
    push, finish = conform._RecheckSignature.push, conform._RecheckSignature.finish
    monkeypatch.setattr(conform._RecheckSignature, "push", lambda self, block: (checked.append(block.copy()), push(self, block))[1])
    monkeypatch.setattr(conform._RecheckSignature, "finish", lambda self: signatures.append(finish(self)) or signatures[-1])
    result = conform_dub(
        path, tmp_path / language, verdict, reference=reference, picture=None, policy=policy,
        original_duration_s=reference.duration_s, matches=matches,
    )  # fmt: skip
    assert result.status == "conformed", result.reason
    native, blocks, container = conform._native_blocks(result.path)
    try:
        decoded = np.concatenate(list(blocks))
    finally:
        container.close()
    assert np.array_equal(decoded, np.concatenate(checked))
    assert conform.written_md5(result.path, "flac") == hashlib.md5(conform._pcm_bytes(decoded)).hexdigest()
    in_memory, from_file = signatures[0], signature_from_file(result.path, policy.signature)
    for field in ("kept_mask", "packed_codes", "envelope_codes"):
        assert np.array_equal(getattr(in_memory, field), getattr(from_file, field)), field
    assert (in_memory.scale, in_memory.n_samples, in_memory.start_time_s) == (
        from_file.scale, from_file.n_samples, from_file.start_time_s,
    )  # fmt: skip


def test_a_written_file_without_the_samples_checked_is_discarded(title, tmp_path, monkeypatch):
    from ml.audio_sync import conform

    reference, dubs, policy = title
    path, verdict, matches = dubs["de"]
    monkeypatch.setattr(conform, "written_md5", lambda path, codec: "0" * 32)  # as if the file were damaged
    with pytest.raises(ConformError, match="are not those re-checked"):
        conform_dub(path, tmp_path / "de", verdict, reference=reference, picture=None, policy=policy,
                    original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("codec", "layout", "sample_format"),
    [("flac", "stereo", "s16"), ("flac", "mono", "s32"), ("flac", "5.1", "s16"), ("pcm_s16le", "stereo", "s16"),
     ("pcm_s24le", "5.1", "s32")],
)  # fmt: skip
def test_every_output_format_holds_the_samples_given_and_their_checksum(tmp_path, codec, layout, sample_format):
    """FLAC (libFLAC for mono and stereo, FFmpeg for 5.1) and PCM WAV: the file decodes to exactly
    the samples written, and its checksum (STREAMINFO MD5, hash of the WAV's data) is theirs."""
    from ml.audio_sync import conform

    channels = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    native = conform._Native(rate=48000, channels=channels, layout=layout, codec=codec,
                             sample_format=sample_format, start_s=0.0, duration_s=None)  # fmt: skip
    rng = np.random.default_rng(25)
    top = 1 << (15 if sample_format == "s16" else 23)
    blocks = [rng.integers(-top, top, size=(n, channels)).astype(native.dtype) for n in (70000, 1, 33333)]
    if sample_format == "s32":
        blocks = [b << 8 for b in blocks]  # 24-bit samples in the upper three bytes
    path = tmp_path / f"out{conform.output_format(codec)[2]}"
    writer = conform._Writer(path, native)
    for block in blocks:
        writer.write(block)
    writer.close()
    decoded_native, decoded, container = conform._native_blocks(path)
    try:
        samples = np.concatenate(list(decoded))
    finally:
        container.close()
    assert (decoded_native.channels, decoded_native.rate, decoded_native.sample_format) == (channels, 48000, sample_format)
    assert np.array_equal(samples, np.concatenate(blocks))
    assert conform.written_md5(path, writer.codec) == writer.md5


def test_the_rendering_process_reports_why_it_stopped(tmp_path):
    """The dub is decoded and rendered in a process of its own: a dub it cannot read is a
    MediaError naming the file and the reason, a process that ended early a ConformError."""
    from ml.audio_sync import conform

    native = conform._Native(rate=44100, channels=2, layout="stereo", codec="flac", sample_format="s16",
                             start_s=0.0, duration_s=10.0)  # fmt: skip
    plan = conform.ConformPlan(kind="constant", sample_rate=44100, n_out=441000, stretch=1.0,
                               pieces=(conform.Piece(0, 441000, 0),), padding_s=0.0, trimmed_s=0.0, shifts_s=(0.0,))  # fmt: skip
    missing = tmp_path / "gone.flac"
    rendered = conform._RenderProcess(missing, native, plan, crossfade_s=0.01)
    try:
        with pytest.raises(MediaError, match="does not exist") as error:
            list(rendered.blocks())
        assert error.value.path == str(missing)
    finally:
        rendered.close()
    rendered = conform._RenderProcess(missing, native, plan, crossfade_s=0.01)
    try:
        rendered.stop()
        with pytest.raises((ConformError, MediaError)):
            list(rendered.blocks())
    finally:
        rendered.close()
