"""Decoding with PyAV, on the streams' own timestamps (no ffmpeg binary).

- :mod:`ml.decoding.audio`: audio tracks to mono float32 at a fixed rate, whole or in blocks, with
  the stream's start time; probing; decoding ahead in a thread (``prefetched``).
- :mod:`ml.decoding.video`: video frames with exact times (variable frame rates), seeking by key
  frame spans, sampled and downscaled frames for the picture half.
"""
