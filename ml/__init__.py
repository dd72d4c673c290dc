"""dubsync's algorithms as plain Python (never imports dagster; the assets call these).

- :mod:`ml.policy`: every threshold, in typed frozen dataclasses with a reason per value.
- :mod:`ml.errors`: the errors the algorithms raise (bad media, bad parameters, bad checkpoints).
- :mod:`ml.report`: plots and tables of a verdict's evidence.
- :mod:`ml.catalogue`: the catalogue QC report's rows, counts and files (CSV, Parquet, markdown).
- :mod:`ml.vendor_sheet`: the per-dub HTML sheet for the vendor (verdict, correction, plot).
- :mod:`ml.catalogue`: the catalogue QC report's rows as markdown, CSV, JSON and Parquet.
- :mod:`ml.vendor_sheet`: one dub's verdict, correction and offset plot as an HTML page for the vendor.
- :mod:`ml.decoding`: PyAV decoding of audio and video on the streams' own timestamps.
- :mod:`ml.audio_sync`: the dub ↔ original half: signatures, matching, timeline fit, verdict, conform.
- :mod:`ml.picture`: the original ↔ picture half: shots, face tracks, lip sync, the title's offset.
- :mod:`ml.testmedia`: generators of test media with known ground truth (tests, demo, benchmarks).
"""
