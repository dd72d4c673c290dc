"""The one place that assembles dubsync's Dagster definitions."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning

from assets.audio_sync import build_audio_sync_assets
from assets.conform import build_conform_assets
from assets.media import dub_media, original_media
from assets.picture import build_picture_assets
from assets.report import build_report_assets
from ml.policy import load_policy
from orchestration.jobs import conform_job, dub_job, reference_job, report_job
from orchestration.partitions import dub_level_keys
from orchestration.sensors import build_landing_zone_sensor
from orchestration.settings import Settings
from resources.artifacts import ArtifactIOManagerFactory
from resources.deliverables import DeliverablesStore
from resources.lipsync_model import LipSyncModelResource, lip_sync_identity
from resources.media_store import LocalMediaStore, MediaStore, ObjectStoreMediaStore
from resources.policy import PolicyResource

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

__all__ = ["build_assets", "build_resources", "build_definitions", "deliverables_root", "defs"]


def _media_store(settings: Settings) -> MediaStore:
    if settings.media_is_remote:
        if settings.media_cache:
            return ObjectStoreMediaStore(url=settings.media_root, cache_dir=settings.media_cache)
        return ObjectStoreMediaStore(url=settings.media_root)
    return LocalMediaStore(root=settings.media_root)


def build_resources(settings: Settings) -> dict:
    """The resources every asset, sensor and job uses, for ``settings``."""
    return {
        "media_store": _media_store(settings),
        "policy_resource": PolicyResource(path=settings.policy_path),
        "io_manager": ArtifactIOManagerFactory(root=settings.artifact_root),
        "lip_sync": LipSyncModelResource(checkpoint=settings.lipsync_checkpoint),
        "deliverables": DeliverablesStore(root=deliverables_root(settings.artifact_root)),
    }


def deliverables_root(artifact_root: str) -> str:
    """Conformed dubs, the catalogue report and vendor sheets: ``<artifact root>/deliverables``."""
    return f"{artifact_root.rstrip('/')}/deliverables"


def build_assets(settings: Settings) -> list:
    """Every asset, versioned by the policy of ``settings`` (and the lip-sync offsets by its model)."""
    policy = load_policy(settings.policy_path or None)
    model = lip_sync_identity(settings.lipsync_checkpoint, policy.lipsync)
    return [
        original_media, dub_media, *build_audio_sync_assets(policy), *build_picture_assets(policy, model),
        *build_conform_assets(policy), *build_report_assets(),
    ]  # fmt: skip


def build_definitions(settings: Settings, *, loggers: dict | None = None) -> Definitions:
    """Definitions for one deployment: the policy is loaded once and versions every asset.

    ``loggers`` adds logger definitions (the command line uses one for its progress lines).
    """
    assets = build_assets(settings)
    sensor = build_landing_zone_sensor(settings.sensor_interval_s, settings.settle_s, dub_level_keys(assets))
    return Definitions(
        assets=assets,
        jobs=[reference_job, dub_job, conform_job, report_job],
        sensors=[sensor],
        resources=build_resources(settings),
        loggers=loggers,
    )


defs = build_definitions(Settings.from_env())
