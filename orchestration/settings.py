"""Where dubsync finds its landing zone, artifacts and policy: read from the environment here only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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
    """

    media_root: str = "demo/landing"
    artifact_root: str = "demo/artifacts"
    policy_path: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        defaults = cls()
        return cls(
            media_root=environ.get("DUBSYNC_MEDIA_ROOT") or defaults.media_root,
            artifact_root=environ.get("DUBSYNC_ARTIFACT_ROOT") or defaults.artifact_root,
            policy_path=environ.get("DUBSYNC_POLICY") or defaults.policy_path,
        )

    @property
    def media_is_remote(self) -> bool:
        return "://" in self.media_root and not self.media_root.startswith("file://")
