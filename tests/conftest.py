"""Shared fixtures: a seeded rng, the shared real media, and Dagster warnings kept quiet."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

warnings.filterwarnings("ignore", module="dagster")

SHARED_MEDIA = Path(os.environ.get("DUBSYNC_SHARED_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media"))


@pytest.fixture
def rng():
    return np.random.default_rng(20241123)


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.fail(f"shared test media not found at {SHARED_MEDIA}: set DUBSYNC_SHARED_MEDIA")
    return SHARED_MEDIA


SHORT_S = 30.0
"""Duration of the generated titles the Dagster tests use (long enough for evidence, quick)."""


@pytest.fixture(scope="session")
def landing_zone(tmp_path_factory, shared_media):
    """A generated landing zone: title ``alpha`` with an original and two dubs (fr +0.8 s, de in sync).

    Returns the root and the ground truth. Tests that change files copy it first
    (:func:`copy_landing_zone`).
    """
    from ml.testmedia import DubSpec, TitleSpec, build_landing_zone

    root = tmp_path_factory.mktemp("landing")
    spec = TitleSpec(
        "alpha",
        duration_s=SHORT_S,
        dubs=(DubSpec("fr", offset_s=0.8), DubSpec("de", offset_s=0.0, codec="aac", bitrate=128000)),
        seed=7,
    )
    truth = build_landing_zone(root, [spec], shared_media=shared_media)
    return root, truth


def copy_landing_zone(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target
