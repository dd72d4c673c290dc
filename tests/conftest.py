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
