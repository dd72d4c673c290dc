"""Shared fixtures: a seeded rng, the real media of ``media/``, and Dagster warnings kept quiet."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

warnings.filterwarnings("ignore", module="dagster")



@pytest.fixture
def rng():
    return np.random.default_rng(20241123)


@pytest.fixture(scope="session")
def real_media() -> Path:
    """The real clips of the repository's ``media/`` (or ``$DUBSYNC_REAL_MEDIA``)."""
    from ml.testmedia.material import real_media_folder

    folder = real_media_folder()
    if not (folder / "SOURCES.md").is_file():
        pytest.fail(f"real test media not found at {folder} (the repository's media/, or $DUBSYNC_REAL_MEDIA)")
    return folder


@pytest.fixture(scope="session")
def landing_zone(tmp_path_factory, real_media):
    """A generated landing zone: title ``alpha`` with an original and two dubs (fr +0.8 s, de in sync).

    Returns the root and the ground truth. Tests that change files copy it first
    (:func:`tests.support.helpers.copy_landing_zone`).
    """
    from ml.testmedia import DubSpec, TitleSpec, build_landing_zone
    from tests.support.helpers import SHORT_S

    root = tmp_path_factory.mktemp("landing")
    spec = TitleSpec(
        "alpha",
        duration_s=SHORT_S,
        dubs=(DubSpec("fr", offset_s=0.8), DubSpec("de", offset_s=0.0, codec="aac", bitrate=128000)),
        seed=7,
    )
    truth = build_landing_zone(root, [spec], real_media=real_media)
    return root, truth


POSTGRES_ADMIN_URL = os.environ.get("DUBSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A PostgreSQL server where tests may create and drop databases (trust auth on the CI machine)."""
DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"


@pytest.fixture
def postgres_url():
    """A PostgreSQL database of this test's own, dropped afterwards; its URL."""
    import uuid

    import sqlalchemy as sa

    name = f"dubsync_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable (.ci/run starts it): {exc}")
    try:
        yield str(sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name))
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def postgres_home(tmp_path, postgres_url, monkeypatch):
    """A ``DAGSTER_HOME`` holding the production ``deploy/dagster.yaml``, on this test's database."""
    import shutil

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DUBSYNC_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def postgres_instance(postgres_home):
    """The production instance (PostgreSQL storage, queued runs, pools) on a database of its own."""
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(postgres_home))
    try:
        yield instance
    finally:
        instance.dispose()


_SLOW_FIXTURES = frozenset({"postgres_url", "postgres_home", "postgres_instance"})

LONGEST_FIRST = ("test_daemon_e2e.py",)
"""Test files that take minutes (a real ``dagster dev`` and its daemon: about 200 s, most of it waiting
on the daemon's intervals): collected first, so that ``make test``'s workers (whole files each) start
them at once instead of ending on them alone."""


def pytest_collection_modifyitems(config, items):
    """Tests on a real PostgreSQL database are end-to-end and slow: mark each test that uses one
    (directly or through another fixture) ``slow``, as the daemon, browser and Celery modules are, so
    that ``pytest -m "not slow"`` is the quick loop. Files in :data:`LONGEST_FIRST` go first."""
    for item in items:
        if _SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)  # stable: the rest keep their order
