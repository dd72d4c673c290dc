"""The catalogue-scale benchmark (benchmarks/scale.py) runs end to end on its quick size, and its
cheaply recorded catalogue is what Dagster's own runs would leave: nothing stale, by Dagster's staleness
as well as dubsync's."""

from __future__ import annotations

import json

import pytest

from benchmarks.scale import QUICK_QUEUE_RUNS, QUICK_SIZE, main


@pytest.mark.slow
def test_quick_run_measures_every_figure(tmp_path, capsys):
    out = tmp_path / "scale.json"
    assert main(["--quick", "--out", str(out)]) == 0
    [row] = json.loads(out.read_text())["rows"]
    assert row["titles"] == QUICK_SIZE and QUICK_SIZE <= row["dubs"] <= 5 * QUICK_SIZE
    # dub-level assets are partitioned by delivered dub: the partition page lists those only
    assert row["ui"]["partitions"] == row["dubs"] < row["product"] == QUICK_SIZE * 30
    assert row["ui"]["delivered_only"]
    assert row["ui"]["materialised"] == row["dubs"]
    assert row["sensor"]["first"]["runs"] == 0, "a checked catalogue: the first tick takes it over"
    assert row["sensor"]["new_100"]["runs"] == min(QUICK_SIZE, 100)
    # a verdict tolerance is read by the verdicts and by the conforms (whose re-check decides with it)
    assert row["stale_tolerance"]["stale"] == 2 * row["dubs"]
    assert row["stale_tolerance"]["assets"] == ["conformed_dubs", "title_verdicts"]
    assert row["stale_first"]["stale"] == 0, "nothing changed since the catalogue was recorded"
    assert row["stale_replaced"]["stale"] == 4  # the dub's signature, matches, verdict and conform
    assert row["stale_replaced_full"]["stale"] == 4, "the same without the search's checkpoint"
    # the run queue: every queued run dequeued and launched within the deployment's limits
    queue = row["queue"]
    assert queue["queued"] == queue["launched"] == queue["runs"] == QUICK_QUEUE_RUNS
    assert queue["iterations"] >= QUICK_QUEUE_RUNS / 4, "at most 4 runs at once (deploy/dagster.yaml)"
    assert "| titles |" in capsys.readouterr().out
