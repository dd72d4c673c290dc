"""Generated test media: landing zones of dubbed titles with known ground truth.

Modules (each a section of what was one file; the public names are re-exported here):

- :mod:`~ml.testmedia.specs`: :class:`TitleSpec`, :class:`DubSpec`, the generator's constants, validation.
- :mod:`~ml.testmedia.truth`: the true offset at a time, a dub's segments, where dialogue lies.
- :mod:`~ml.testmedia.material`: real music and speech from ``media/``, effects, synthetic fallbacks.
- :mod:`~ml.testmedia.stems`: the M&E bed and dialogue stems, mapped to a dub's own time.
- :mod:`~ml.testmedia.remix`: a dub's M&E remixed (EQ, compression, echo, low-pass).
- :mod:`~ml.testmedia.writers`: encoding to any codec PyAV writes, and reading back.
- :mod:`~ml.testmedia.builders`: a title, a landing zone, the demo's titles, the command line.
- :mod:`~ml.testmedia.picture`: titles with a picture (real talking heads cut together).
- :mod:`~ml.testmedia.video`: generated video with known cut frames.
- :mod:`~ml.testmedia.shift`: copies of a clip with its audio moved by a known offset.
- :mod:`~ml.testmedia.bad_picture`: copies of a clip whose picture lip sync cannot read (black,
  still, no face, tiny faces, turned by a display matrix).
- :mod:`~ml.testmedia.face_crop`: copies of a clip cropped to its face, scaled and re-encoded as the
  lip-reading corpora hold their clips (160 × 160 at broadcast compression, say).

The generator builds titles the way dubs are made.  One music-and-effects (M&E)
bed is shared by every language; each language has a dialogue stem whose lines
sit at the *same* positions on the reference timeline; a language's mix is
``M&E + dialogue``.  The original file is the original language's mix; a dub
file is the dub language's mix, transformed by its :class:`DubSpec` (offset,
drift, reel-change jumps, gain, sample rate, channel layout, codec).

Landing zone layout (the product's input contract)::

    <root>/<title_id>/original.<ext>     first audio stream = original-language audio
    <root>/<title_id>/dubs/<lang>.<ext>  first audio stream = the dub in language <lang>
    <root>/<title_id>/title.json         {"original_language": "en"}
    <root>/ground_truth.json             written by the generator (not part of the contract)

Time conventions (the ground truth)
-----------------------------------
*Reference time* ``T`` (seconds) is the time on the original's timeline; the
original file is ``orig(T) = mix_orig(T)`` for ``0 <= T < duration_s``.
*Dub time* ``t`` (seconds) is the time on the dub file's own clock.  The
program material ``mix`` exists on an extended timeline (also before 0 and
after ``duration_s``) so that a shifted dub has real content at both ends.

A dub with offset ``o``, speed ratio ``r`` and no jumps is::

    dub(t) = mix_dub(r * t + o),        0 <= t < duration_s / r

* ``offset_s`` is POSITIVE when the dub LEADS: an event at reference time ``T``
  is heard in the dub at ``t = (T - o) / r`` (for ``r == 1``: at ``T - o``).
* ``speed_ratio`` ``r`` > 1 means the dub plays r times faster (PAL speed-up
  25/24, pitch shifted as in a real transfer); it is realised by resampling the
  mixed signal with soxr.  The dub lasts ``duration_s / r``.
* ``jumps`` ``((J_1, o_1), (J_2, o_2), ...)`` make the offset piecewise
  constant: ``J_k`` is a REFERENCE time, and from reference time ``J_k`` on the
  offset is ``o_k`` (before ``J_1`` it is ``offset_s = o_0``).  In dub time the
  switch happens at ``s_k = (J_k - o_k) / r`` (a cut, as at a reel change):
  ``dub(t) = mix_dub(r * t + o_k)`` for ``s_k <= t < s_{k+1}``.  The ``s_k``
  must increase strictly.  When the offset grows at a jump, the reference
  material in ``[J_k - (o_k - o_{k-1}), J_k)`` is never heard in the dub; when
  it shrinks, the reference material just after ``J_k`` is heard twice.

The true offset at reference time ``T`` (:func:`offset_at`) is therefore::

    o(T)        = o_k for the last k with J_k <= T   (o_0 = offset_s)
    offset(T)   = T - (T - o(T)) / r                 (= o(T) when r == 1)

i.e. ``offset(T) = T - t_dub(T)``: how many seconds earlier than in the
original the dub plays the material of reference time ``T``.  Offsets are
realised to within floating-point precision (fractional-sample offsets use a
windowed-sinc fractional delay; drift uses soxr, whose output sample ``q`` is
aligned with input time ``q * in_rate / out_rate``).  Codec priming is
compensated so that PyAV/FFmpeg decoding of every file is aligned: AAC in .m4a
and MP3 carry their encoder delay in the container; raw AC-3 cannot, so the
generator drops the encoder's 256 priming samples at the start of the signal.

``localized_opening_s = N`` replaces the dub's M&E during dub time ``[0, N)``
with different music (1-s equal-power crossfade back to the shared bed after
``N``); dialogue is unchanged.  ``gain_db`` scales the whole dub mix.

Levels: the bed is normalised to about -24 dBFS RMS per channel (plus the
title's ``me_level_db``); dialogue lines to 3 dB below the nominal bed level
(measured over the active part of each line), so that in each channel of a
stereo file (``L = bed_L + dialogue``, ``R = bed_R + dialogue``) and in a mono
file (``(bed_L + bed_R) / 2 + dialogue``) both matter.  5.1 carries the
dialogue in the centre channel (+3 dB, so that the standard -3 dB centre
downmix gives the stereo balance), the bed in L/R (surrounds at -6 dB) and a
low-passed bed in the LFE.

Material
--------
* music beds: ``<media>/music/*.ogg`` files of at least 20 s, cut into long
  excerpts (12-40 s, random file and position) joined with 1-s crossfades;
  shorter files there are used as effects;
* effects: ``/usr/share/sonic-pi/samples/*.flac`` (CC0), sprinkled at random
  times, plus a quiet noise room tone;
* speech: ``<media>/speech/<lang>.wav`` (and, for English, ``*.hq.ogg``);
  other languages are spoken by ``espeak-ng``; without it a synthetic
  speech-like signal is used.
Every source is optional and has a synthetic fallback.  ``<media>`` is the
``real_media`` argument, else ``$DUBSYNC_REAL_MEDIA``, else the repository's
``media/`` folder (:data:`~ml.testmedia.material.REAL_MEDIA`).

Everything is deterministic for a given seed: random draws come from
``numpy.random.default_rng`` seeded per purpose and per 10-s block, anchored at
reference time 0, so the content of ``[0, duration_s]`` does not depend on how
far the timeline had to be extended for the dubs.

Run ``python -m ml.testmedia <root> --demo`` to build the demo landing zone.
"""

from ml.testmedia.builders import build_landing_zone, build_title, demo_specs, main
from ml.testmedia.material import REAL_MEDIA, MediaSources, speech_pool
from ml.testmedia.specs import GENERATOR_VERSION, CodecUnavailableError, DubSpec, TitleSpec
from ml.testmedia.truth import dialogue_intervals, dub_segments, offset_at
from ml.testmedia.writers import AudioWriter, codec_extension, read_audio, write_audio

__all__ = [
    "AudioWriter",
    "CodecUnavailableError",
    "DubSpec",
    "GENERATOR_VERSION",
    "MediaSources",
    "REAL_MEDIA",
    "TitleSpec",
    "build_landing_zone",
    "build_title",
    "codec_extension",
    "demo_specs",
    "dialogue_intervals",
    "dub_segments",
    "main",
    "offset_at",
    "read_audio",
    "speech_pool",
    "write_audio",
]
