"""The UI as users see it: ``dagster dev`` on an instance holding results, driven by headless Chromium.

One title (``alpha``: fr +0.8 s, de in sync) is checked with ``dubsync check``'s ``run_check`` onto a
SQLite instance; ``dagster dev`` (webserver and daemon) serves it, and Chromium opens

* the ``audio_sync`` asset group's graph: every asset of the group is drawn;
* the ``title_verdicts`` partition ``fr|alpha``: the verdict metadata shows the values the run
  recorded, and the ``timeline`` markdown opens as a rendered PNG plot.

Screenshots go to ``$DUBSYNC_TEST_ARTEFACTS/ui/`` (default ``tests/artefacts/ui/``), also on failure,
with the page's HTML and the ``dagster dev`` log.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

import pytest

from tests.support.dagster_dev import REPO_ROOT, running_dagster_dev
from tests.support.helpers import copy_landing_zone

pytestmark = pytest.mark.slow  # a real dagster dev and a browser (minutes): `pytest -m "not slow"` skips it

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTEFACTS = Path(os.environ.get("DUBSYNC_TEST_ARTEFACTS") or REPO_ROOT / "tests" / "artefacts") / "ui"
WAIT_S = 90
"""Explicit-wait timeout: the React app loads slowly on 2 cores."""
GROUP = "audio_sync"
GROUP_ASSETS = ("reference_signature", "dub_signature", "frame_match_offsets", "title_verdicts")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes the renderer
    "--window-size=1600,1200",
)
DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
"""
"""SQLite defaults; no telemetry and no "join the community" dialog over the pages."""


def _require_browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        pytest.fail(
            f"browser test needs {', '.join(missing)}: run `make install` "
            "(installs the Debian packages chromium and chromium-driver and the [test] extra)",
            pytrace=False,
        )


@pytest.fixture
def browser(tmp_path):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def instance_with_results(landing_zone, tmp_path):
    """A ``DAGSTER_HOME`` holding every asset of ``alpha`` materialised; returns (home, env, rows)."""
    from dagster import DagsterInstance

    from orchestration.cli import run_check

    media = copy_landing_zone(landing_zone[0], tmp_path / "landing")
    artifacts = tmp_path / "artifacts"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    instance = DagsterInstance.from_config(str(home))
    try:
        rows = run_check(str(media), artifact_root=str(artifacts), instance=instance, emit=lambda _line: None)
    finally:
        instance.dispose()
    env = {"DAGSTER_HOME": str(home), "DUBSYNC_MEDIA_ROOT": str(media), "DUBSYNC_ARTIFACT_ROOT": str(artifacts)}
    return home, env, {(row["title"], row["language"]): row for row in rows}


class _Pages:
    """Explicit waits, screenshots and failure evidence for one test."""

    def __init__(self, driver, base_url: str, log_path: Path):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base_url = base_url
        self.log_path = log_path
        self.wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.5)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def visible(self, xpath: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        return self.wait.until(ec.visibility_of_element_located((By.XPATH, xpath)), f"not shown: {xpath}")

    def screenshot(self, name: str) -> Path:
        path = ARTEFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def keep_evidence(self, name: str) -> None:
        """On failure: screenshot, page HTML and the dagster dev log, next to the other artefacts."""
        try:
            self.screenshot(f"FAILED-{name}")
            (ARTEFACTS / f"FAILED-{name}.html").write_text(self.driver.page_source)
        finally:
            if self.log_path.exists():
                shutil.copy(self.log_path, ARTEFACTS / "FAILED-dagster_dev.log")


def _text_xpath(text: str) -> str:
    return f"//*[normalize-space(text())='{text}']"


def _metadata_value_xpath(label: str) -> str:
    """The value cell of a metadata table row."""
    return f"//tr[td[1][normalize-space()='{label}']]/td[2]"


def _location_name(server) -> str:
    data = server.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } } } } } } }"
    )
    entries = data["workspaceOrError"]["locationEntries"]
    loaded = [e for e in entries if e["locationOrLoadError"]["__typename"] == "RepositoryLocation"]
    assert len(loaded) == 1, f"expected one loaded code location, got {entries}"
    return loaded[0]["name"]


def test_asset_graph_and_verdict_partition_in_the_browser(browser, instance_with_results):
    from orchestration.partitions import dub_partition_key

    home, env, rows = instance_with_results
    verdict = rows[("alpha", "fr")]
    assert verdict["error"] is None and verdict["kind"] == "constant", verdict
    partition = dub_partition_key("alpha", "fr")
    assert partition == "fr|alpha"

    for stale in ARTEFACTS.glob("*") if ARTEFACTS.is_dir() else ():
        if stale.is_file():
            stale.unlink()  # this test's screenshots from an earlier run
    with running_dagster_dev(home, env) as server:
        pages = _Pages(browser, server.url, server.log_path)
        location = _location_name(server)

        # (a) The asset graph of the audio_sync group: every asset drawn as a node.
        step = "asset-graph"
        try:
            pages.open(f"/locations/{urllib.parse.quote(location)}/asset-groups/{GROUP}")
            for asset in GROUP_ASSETS:
                pages.visible(_text_xpath(asset))
            pages.visible("//*[normalize-space(text())='100% filled']")
            pages.screenshot("01-asset-graph-audio_sync")
        except Exception:
            pages.keep_evidence(step)
            raise

        # (b) The fr|alpha partition of title_verdicts: the verdict metadata and the timeline plot.
        step = "title_verdicts-partition"
        try:
            query = urllib.parse.urlencode({"view": "partitions", "partition": partition})
            pages.open(f"/assets/title_verdicts?{query}")
            pages.visible(_text_xpath(partition))  # the partition's heading: the right one is selected
            shown = {
                label: pages.visible(_metadata_value_xpath(label)).text.strip()
                for label in ("kind", "offset_ms", "in_sync", "itu_band", "correction", "reason")
            }
            assert shown["kind"] == "constant"
            assert float(shown["offset_ms"]) == pytest.approx(verdict["offset_ms"], abs=0.05)
            assert abs(float(shown["offset_ms"]) - 800) <= 5
            assert shown["in_sync"] == "false"
            assert shown["itu_band"] == verdict["band"] == "unacceptable"
            assert shown["correction"] == verdict["correction"]
            assert shown["reason"] == verdict["reason"] and shown["reason"].startswith("dub leads by")
            pages.screenshot("02-title_verdicts-fr_alpha-metadata")

            pages.visible(f"{_metadata_value_xpath('timeline')}//a[normalize-space()='[Show Markdown]']").click()
            dialog = "//div[contains(@class,'bp5-dialog')][.//*[normalize-space(text())='timeline']]"
            image = pages.visible(f"{dialog}//img[starts-with(@src,'data:image/png;base64,')]")
            pages.wait.until(
                lambda driver: driver.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth > 0", image
                ),
                "the timeline PNG did not decode",
            )
            width, height = browser.execute_script(
                "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
            )
            assert width >= 300 and height >= 100, (width, height)
            assert image.size["width"] > 0 and image.size["height"] > 0
            pages.screenshot("03-title_verdicts-fr_alpha-timeline")
        except Exception:
            pages.keep_evidence(step)
            raise
