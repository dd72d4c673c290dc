"""Reliability: transient I/O is retried with backoff, a write cut short leaves nothing a rerun
trusts, and re-materialising a partition is idempotent."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    build_input_context,
    build_output_context,
    instance_for_test,
    materialize,
)

from assets.audio_sync import DUB_SIGNATURE, FRAME_MATCH_OFFSETS, REFERENCE_SIGNATURE, TITLE_VERDICTS
from ml.audio_sync.matching import FrameMatches
from orchestration.backfill import find_stale, out_of_tolerance
from orchestration.definitions import build_assets, build_definitions, build_resources
from orchestration.partitions import dub_partition_key
from orchestration.settings import Settings
from resources.artifacts import STALE_PARTIAL_S, ArtifactIOManagerFactory
from resources.media_store import LocalMediaStore
from tests.support.helpers import add_partitions, title_chain

REPO = Path(__file__).resolve().parents[1]


class FlakyMediaStore(LocalMediaStore):
    """The local landing zone behind a share that drops the first reads (EIO), as NFS or SMB do
    during a fail-over. The count is kept in a file, so it survives the step's re-execution."""

    failures_file: str

    @contextmanager
    def local_path(self, track, progress=None):
        counter = Path(self.failures_file)
        left = int(counter.read_text())
        if left > 0:
            counter.write_text(str(left - 1))
            raise OSError(errno.EIO, "Input/output error (share unavailable)", track.name)
        with super().local_path(track, progress) as path:
            yield path



def test_transient_read_errors_are_retried_with_backoff(landing_zone, tmp_path):
    root, _ = landing_zone
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"))
    failures = tmp_path / "failures"
    failures.write_text("2")
    resources = {**build_resources(settings), "media_store": FlakyMediaStore(root=str(root), failures_file=str(failures))}
    with instance_for_test() as instance:
        add_partitions(instance, ["alpha"], ["fr"])
        result = materialize(
            build_assets(settings), selection=[REFERENCE_SIGNATURE], partition_key="alpha",
            instance=instance, resources=resources,
        )  # fmt: skip
        assert result.success
        kinds = [e.event_type for e in result.all_events]
        assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 2
        assert kinds.count(DagsterEventType.STEP_RESTARTED) == 2
        assert failures.read_text() == "0"
        # the error a retry cannot fix is not retried: a title without its original
        (root_copy := tmp_path / "lz" / "beta" / "dubs").mkdir(parents=True)
        (root_copy / "fr.flac").write_bytes((root / "alpha" / "dubs" / "fr.flac").read_bytes())
        root_copy = tmp_path / "lz"
        bad = Settings(media_root=str(root_copy), artifact_root=str(tmp_path / "artifacts"))
        add_partitions(instance, ["beta"], [])
        failed = materialize(
            build_assets(bad), selection=[REFERENCE_SIGNATURE], partition_key="beta",
            instance=instance, resources=build_resources(bad), raise_on_error=False,
        )  # fmt: skip
        assert not failed.success
        assert DagsterEventType.STEP_UP_FOR_RETRY not in [e.event_type for e in failed.all_events]
        # nor is an upstream artifact that was never written: the step fails at once, naming it
        missing = materialize(
            build_assets(settings), selection=[FRAME_MATCH_OFFSETS],
            partition_key=dub_partition_key("alpha", "fr"), instance=instance,
            resources=build_resources(settings), raise_on_error=False,
        )  # fmt: skip
        assert not missing.success
        assert DagsterEventType.STEP_UP_FOR_RETRY not in [e.event_type for e in missing.all_events]
        [failure] = [e for e in missing.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        assert "materialise the upstream asset dub_signature" in str(failure.event_specific_data.error)


_WRITER = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from dagster import AssetKey, build_output_context
    from ml.audio_sync.matching import FrameMatches
    from resources.artifacts import ArtifactIOManagerFactory

    n = 2_000_000  # about 40 MB of arrays: more than the file-size limit below
    matches = FrameMatches(
        dub_times=np.arange(n, dtype=float), offsets=np.zeros(n), distances=np.ones(n, np.float32),
        rival_distances=np.ones(n, np.float32), theta_min_dist=8.0, dub_duration_s=1.0,
        frame_seconds=0.046, max_rival_ratio=0.6,
    )
    manager = ArtifactIOManagerFactory(root=sys.argv[1]).create_io_manager(None)
    if sys.argv[2] == "killed":
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # the kernel kills the writer at the limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # the disk "fills" after 1 MB
    manager.handle_output(build_output_context(asset_key=AssetKey("frame_match_offsets")), matches)
    """
)


@pytest.mark.parametrize("how", ["failed", "killed"])
def test_a_write_cut_short_leaves_nothing_a_rerun_trusts(tmp_path, how):
    artifacts = tmp_path / "artifacts"
    completed = subprocess.run(
        [sys.executable, "-c", _WRITER, str(artifacts), how], cwd=REPO, capture_output=True, timeout=120
    )
    written = [p for p in artifacts.rglob("*") if p.is_file()]
    if how == "failed":  # the write raised (disk full): the writer removed its partial file
        assert completed.returncode == 1 and b"File too large" in completed.stderr
        assert written == []
    else:  # the process died mid-write: only a hidden partial file remains
        assert completed.returncode == -signal.SIGXFSZ, completed.stderr.decode()[-2000:]
        assert len(written) == 1 and written[0].name.startswith(".") and written[0].name.endswith(".partial")
        assert 0 < written[0].stat().st_size <= 1 << 20
    manager = ArtifactIOManagerFactory(root=str(artifacts)).create_io_manager(None)
    upstream = build_output_context(asset_key=AssetKey("frame_match_offsets"))
    with pytest.raises(FileNotFoundError, match="materialise the upstream asset frame_match_offsets"):
        manager.load_input(build_input_context(asset_key=AssetKey("frame_match_offsets"), upstream_output=upstream))
    if how == "killed":
        # the next write of the artifact removes the killed run's partial file once it is stale, and
        # keeps a fresh one (a concurrent write of the same partition)
        stale, fresh = written[0], written[0].with_name(".frame_match_offsets.npz.0123.partial")
        fresh.write_bytes(b"x")
        old = time.time() - 2 * STALE_PARTIAL_S
        os.utime(stale, (old, old))
        matches = FrameMatches(
            dub_times=np.arange(3.0), offsets=np.zeros(3), distances=np.ones(3, np.float32),
            rival_distances=np.ones(3, np.float32), theta_min_dist=8.0, dub_duration_s=3.0,
            frame_seconds=0.046, max_rival_ratio=0.6,
        )  # fmt: skip
        manager.handle_output(upstream, matches)
        left = sorted(p.name for p in artifacts.rglob("*") if p.is_file())
        assert left == [fresh.name, "frame_match_offsets.npz"]


def test_rematerialising_a_partition_is_idempotent(landing_zone, tmp_path):
    root, _ = landing_zone
    artifacts = tmp_path / "artifacts"
    settings = Settings(media_root=str(root), artifact_root=str(artifacts))
    key = dub_partition_key("alpha", "fr")
    chain = [DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS]
    with instance_for_test() as instance:
        add_partitions(instance, ["alpha"], ["fr"])

        def run():
            assert materialize(build_assets(settings), selection=title_chain(), partition_key="alpha",
                               instance=instance, resources=build_resources(settings)).success
            # fr leads by 800 ms: its check fails (not blocking), the run is green
            dub = materialize(build_assets(settings), selection=chain, partition_key=key,
                              instance=instance, resources=build_resources(settings), raise_on_error=False)
            assert dub.success and out_of_tolerance(dub)
            files = {p.relative_to(artifacts).as_posix(): p.read_bytes() for p in artifacts.rglob("*") if p.is_file()}
            versions = {
                k.to_user_string(): instance.get_latest_materialization_event(k).asset_materialization.tags[
                    "dagster/data_version"
                ]
                for k in [*title_chain(), *chain]
            }
            return files, versions

        first_files, first_versions = run()
        second_files, second_versions = run()
        assert sorted(first_files) == [
            "deliverables/sheets/alpha/fr.html",  # the vendor's sheet the verdict writes (issue 25)
            "dub_signature/fr/alpha.npz", "face_tracks/alpha.npz", "frame_match_offsets/fr/alpha.npz",
            "lip_sync_offsets/alpha.npz", "reference_signature/alpha.npz", "shot_boundaries/alpha.npz",
            "title_verdicts/fr/alpha.npz",
        ]  # fmt: skip
        assert first_files == second_files, "the same inputs and policy give the same bytes"
        assert first_versions == second_versions, "and the same data versions"
        defs = build_definitions(settings)
        assert find_stale(defs, instance, defs.resources["media_store"]) == []
