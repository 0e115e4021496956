# rplcare: `make run` (the web app on embedded defaults) and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test test-long fuzz lint bench install system-deps clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==26.3
	$(PY) -m pip install -q -c constraints.txt -e ".[web,interop,dev,screen,spark]"
	touch $(STAMP)

## .pyc for the editable src/ written now, not at each start of a run (where PYTHONDONTWRITEBYTECODE
## or a read-only tree would compile every module again, issue 12 §2)
install: $(STAMP)
	$(PY) -m compileall -q src

system-deps:
	bash scripts/system-deps.sh

## The main job: the clinician web app on 127.0.0.1:8000 with SQLite under var/ and the examples.
run: install
	RPLCARE_COOKIE_SECURE=$${RPLCARE_COOKIE_SECURE:-0} $(PY) -m rplcare.cli serve --host 127.0.0.1 --port 8000

## Assess an example case in the terminal (the engine without the web app).
demo: install
	$(PY) -m rplcare.cli assess examples/bleeding-early-pregnancy.yaml

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m mypy

test: install system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

## The one-plan property over 10,000 generated cases (make test runs 500).
test-long: install
	RPLCARE_LONG=1 $(PY) -m pytest -q -p no:cacheprovider -m slow tests/reasoning/test_one_plan.py

## The long fuzz run: 10,000 inputs per face (cli, api, fhir, cds); figures in the README.
fuzz: install
	RPLCARE_FUZZ_EXAMPLES=$${RPLCARE_FUZZ_EXAMPLES:-10000} $(PY) -m pytest -q -s -p no:cacheprovider -p no:logging tests/test_fuzz_faces.py

## Every benchmark in one run (about 7-9 min); each script replaces its section of
## docs/performance.md (figures as ratios to floors measured in the same run, with the machine).
## The CDS run is repeated at nice -10 (with privileges; else at normal priority) to show the
## service apart from a shared machine's neighbours; both figures are written.
## BENCH_ARGS=--quick: the same scripts in seconds (what tests/test_bench_smoke.py runs).
bench: install system-deps
	$(PY) benchmarks/bench_core.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_cli_start.py
	$(PY) benchmarks/bench_cds.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_cds.py --nice -10 $(BENCH_ARGS)
	$(PY) benchmarks/bench_cds.py --nice -10 --jwt $(BENCH_ARGS)
	$(PY) benchmarks/bench_scaling.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_web.py --seconds 20 $(BENCH_ARGS)
	$(PY) benchmarks/bench_outcomes.py --patients 30000 --repeat 3 $(BENCH_ARGS)
	@echo "figures written to docs/performance.md"

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
