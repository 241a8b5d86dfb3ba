# The reader's verbs. Every target sets up what it needs first (scripts/setup.sh is idempotent).
TIER ?= laptop
# Pages executed at once (default: one per CPU core); JOBS=1 runs them one after another.
JOBS ?=
# FORCE=1 executes every page; by default a page whose inputs are unchanged since it last executed is kept.
FORCE ?=
PY := .venv/bin/python
BUILD_FLAGS := -W -n --keep-going

.PHONY: setup book notebooks html linkcheck render-check smoke-book test test-unit test-integration test-slow bench status run params screenshot clean

setup:
	./scripts/setup.sh

## The main job: execute every page at $(TIER) with papermill (JOBS at a time), build the book (no execution), check links.
book: setup notebooks html linkcheck

notebooks: setup
	.venv/bin/headcount notebooks --tier $(TIER) $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force)

html: setup
	rm -rf _build/html
	.venv/bin/jupyter-book build book --config _config.yml --path-output . $(BUILD_FLAGS)

linkcheck:
	$(PY) scripts/linkcheck.py _build/html

## Every built page in headless Chromium at 1100 and 390 px: console errors, untypeset math, broken images,
## requests leaving the site, overflow at phone width (the integration tier runs it on the smoke book).
render-check: setup
	$(PY) scripts/render_check.py _build/html

smoke-book:
	$(MAKE) book TIER=smoke

## The test suite (what CI runs): the unit tier, then the integration tier (two runs, so a unit failure shows fast).
test: setup
	$(PY) -m pytest -q -rs -m "not integration and not slow"
	$(PY) -m pytest -q -rs -m "integration and not slow"

## Unit tier (under a minute on two cores): library, store, engine, pages' functions, runner and CLI checks.
test-unit: setup
	$(PY) -m pytest -q -rs -m "not integration and not slow"

## Integration tier: every page at the smoke tier under papermill, the book built with -W, papermill runs,
## killed processes, and the regression guard over the committed bundle (tests/test_verdicts.py).
test-integration: setup
	$(PY) -m pytest -q -rs -m "integration and not slow"

## Slow tests: the MS MARCO and CIFAR-10 pipelines end to end outside the pages, and a determinism check.
test-slow: setup
	$(PY) -m pytest -q -m slow

## Throughput of the stacked training engine against one model at a time; last line: "speedup <x>x".
bench: setup
	$(PY) -m headcount.engine.bench

status: setup
	.venv/bin/headcount status --tier $(TIER)

## Re-run one page: make run NB=synthetic_heads TIER=laptop PARAMS='-p T_grid "[8, 32]" -p D 3'
run: setup
	.venv/bin/headcount run $(NB) --tier $(TIER) $(PARAMS)

params: setup
	.venv/bin/headcount params $(NB) --tier $(TIER) $(PARAMS)

screenshot:
	./scripts/screenshot.sh $(PAGES)

clean:
	rm -rf _build book/nb book/_extra/figures book/_claims
