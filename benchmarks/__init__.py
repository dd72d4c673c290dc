"""dubsync's benchmarks, each run as ``python -m benchmarks.<name>`` (``make bench-*``); results in
``benchmarks/results/`` (ignored), dated figures in ``benchmarks/README.md``.

- :mod:`benchmarks.audio_sync`: dub ↔ original sync on generated titles, peers side by side.
- :mod:`benchmarks.peers`: installs and runs the peer tools (``peer_runners/``) in their own venvs.
- :mod:`benchmarks.video`: shot detection against PySceneDetect, face tracks, speed.
- :mod:`benchmarks.shots_speed`: shot detection against decode-only, alternating, repeated.
- :mod:`benchmarks.track_decoding`: one face track's own span against a full decode.
- :mod:`benchmarks.lipsync`: the lip-sync estimators on the real talking heads with known shifts.
- :mod:`benchmarks.lipsync_titles`: a title's lip-sync offset from several speakers.
- :mod:`benchmarks._common`: paths, report writing and the decode-only baselines they share.
"""
