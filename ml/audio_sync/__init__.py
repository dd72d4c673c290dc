"""The dub ↔ original half: how far a dub is from its original audio, over time.

- :mod:`ml.audio_sync.signatures`: compressive-sensing audio signatures (sparsified dB spectrogram
  times a seeded Bernoulli matrix), streamed block by block.
- :mod:`ml.audio_sync.matching`: per-frame offsets by L∞ matching of signatures (coarse then fine),
  with the speed-ratio search for drifts.
- :mod:`ml.audio_sync.envelope`: the second matcher: band-onset envelopes cross-correlated per
  stretch, for dubs whose shared M&E the signatures cannot match (dialogue over it, remixes).
- :mod:`ml.audio_sync.timeline`: robust fit of the per-frame offsets: constant, drift, segments.
- :mod:`ml.audio_sync.verdict`: the title verdict (kind, band, correction) under the policy.
- :mod:`ml.audio_sync.conform`: the dub corrected from its verdict, re-checked with the same code.
"""
