"""Where dubsync finds its landing zone, artifacts and policy: read from the environment here only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ml.errors import ParameterError

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Deployment settings.

    Attributes
    ----------
    media_root : str
        Landing zone: a folder, or an fsspec URL (``s3://bucket/landing``) for object storage.
        ``DUBSYNC_MEDIA_ROOT``, default ``demo/landing``.
    artifact_root : str
        Where asset values are stored: a folder or an fsspec URL.
        ``DUBSYNC_ARTIFACT_ROOT``, default ``demo/artifacts``.
    policy_path : str
        A policy TOML file, empty for the defaults. ``DUBSYNC_POLICY``.
    sensor_interval_s : int
        Seconds between two scans of the landing zone by the sensor. ``DUBSYNC_SENSOR_INTERVAL_S``,
        default 30.
    settle_s : int
        The sensor takes a new or replaced file of a landing-zone folder once it has gone this many
        seconds unchanged, so that a file still being copied in is not checked half-written.
        ``DUBSYNC_SETTLE_S``, default 30; 0 takes files at once.
    lipsync_checkpoint : str
        A SyncNet v2 state dict for lip sync; empty for the weight-free estimator.
        ``DUBSYNC_LIPSYNC_CHECKPOINT``.
    media_cache : str
        A folder of its own where files of a landing zone on object storage are copied before
        decoding (room for the tracks of the largest titles checked at once; copies unused for a
        day are removed); empty for ``dubsync-media-cache`` in the system's temporary folder.
        ``DUBSYNC_MEDIA_CACHE``.
    """

    media_root: str = "demo/landing"
    artifact_root: str = "demo/artifacts"
    policy_path: str = ""
    sensor_interval_s: int = 30
    settle_s: int = 30
    lipsync_checkpoint: str = ""
    media_cache: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        defaults = cls()
        return cls(
            media_root=environ.get("DUBSYNC_MEDIA_ROOT") or defaults.media_root,
            artifact_root=environ.get("DUBSYNC_ARTIFACT_ROOT") or defaults.artifact_root,
            policy_path=environ.get("DUBSYNC_POLICY") or defaults.policy_path,
            sensor_interval_s=_whole_seconds(environ, "DUBSYNC_SENSOR_INTERVAL_S", defaults.sensor_interval_s),
            settle_s=_whole_seconds(environ, "DUBSYNC_SETTLE_S", defaults.settle_s, minimum=0),
            lipsync_checkpoint=environ.get("DUBSYNC_LIPSYNC_CHECKPOINT") or defaults.lipsync_checkpoint,
            media_cache=environ.get("DUBSYNC_MEDIA_CACHE") or defaults.media_cache,
        )

    @property
    def media_is_remote(self) -> bool:
        return "://" in self.media_root and not self.media_root.startswith("file://")


def _whole_seconds(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(f"{name}={raw!r} must be a whole number of seconds") from None
    if value < minimum:
        raise ParameterError(f"{name}={raw!r} must be >= {minimum}")
    return value
