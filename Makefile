# dubsync: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEBIAN_PACKAGES := espeak-ng sonic-pi-samples chromium chromium-driver
DEMO_DIR := demo
# `make test` runs the suite in this many worker processes (pytest-xdist), whole test files per worker
TEST_WORKERS ?= 2

.PHONY: install system-deps demo test ui clean-demo bench-audio bench-video bench-lipsync bench-lipsync-titles bench-scale

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Test material from Debian (CC0 effects, speech synthesis); skipped where already installed.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get install -y -q $$missing >/dev/null || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $$missing >/dev/null; }; \
	fi

install: $(STAMP) system-deps

demo: install
	DAGSTER_HOME=$(CURDIR)/$(DEMO_DIR)/dagster_home $(BIN)/dubsync demo --dir $(DEMO_DIR)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The demo's results in the Dagster UI (http://127.0.0.1:3000), after `make demo`.
ui: install
	DAGSTER_HOME=$(CURDIR)/$(DEMO_DIR)/dagster_home \
	DUBSYNC_MEDIA_ROOT=$(CURDIR)/$(DEMO_DIR)/landing \
	DUBSYNC_ARTIFACT_ROOT=$(CURDIR)/$(DEMO_DIR)/artifacts \
	$(BIN)/dagster dev -w workspace.yaml

clean-demo:
	rm -rf $(DEMO_DIR)

# Dub <-> original sync benchmark (generated titles, peers in their own venvs); see benchmarks/audio_sync.py.
bench-audio: install
	$(BIN)/python -m benchmarks.audio_sync

# Picture benchmark (real edits: cuts and dissolves vs PySceneDetect Content and Adaptive, face tracks per shot; published
# cut lists; generated 10-minute title); see benchmarks/video.py. Then real footage with wipes, pushes and slides, whip
# pans and pans, a zoom, brightenings, caption boxes and banners, dissolves between two speakers (one windowboxed),
# dubsync vs the same detectors, and random pushes, whip pans and wider pans from four seeds; see
# benchmarks/transitions.py.
$(VENV)/.bench-stamp: pyproject.toml | $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench-video: install $(VENV)/.bench-stamp
	$(BIN)/python -m benchmarks.video
	$(BIN)/python -m benchmarks.transitions
	$(BIN)/python -m benchmarks.transitions --moves 11 13 17 19

# Lip sync of the original audio (weight-free estimator) on the shared talking heads with known
# audio shifts, by moved samples and by a stream start offset; then the same clips cropped to their
# faces at 160 x 160 and re-encoded at CRF 30, as LRS2 holds its clips (shifts 0, +-3, +-8 frames);
# see benchmarks/lipsync.py.
bench-lipsync: install
	$(BIN)/python -m benchmarks.lipsync
	$(BIN)/python -m benchmarks.lipsync --recipe crop160-crf30 --shifts 0 3 -3 8 -8 --methods samples

# Title-level lip sync: generated titles with a picture (the demo's, and random draws of the shared
# talking heads over music), each track's error and the title's offset by each combination rule.
bench-lipsync-titles: install
	$(BIN)/python -m benchmarks.lipsync_titles

# Catalogue scale: sensor ticks, the stale search, the UI's partition page and the run queue on synthetic catalogues of
# 1,000, 5,000 and 20,000 titles x 30 languages on PostgreSQL (DUBSYNC_TEST_POSTGRES); see benchmarks/scale.py.
bench-scale: install
	$(BIN)/python -m benchmarks.scale
