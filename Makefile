# Two commands set everything up on a fresh machine with nothing but Python:
#   make demo   - create .venv, install, run the backtest + paper-trading demo on embedded data
#   make test   - the same set-up, then the whole suite (both IB clients, notebooks included)
PYTHON ?= python3
VENV := .venv
VENV_INSYNC := .venv-insync
PY := $(VENV)/bin/python
PY_INSYNC := $(VENV_INSYNC)/bin/python
PIP_FLAGS := --disable-pip-version-check --quiet
export MPLBACKEND := Agg

.PHONY: demo test test-core test-ibapi test-insync lint bench clean install browser screenshots

demo: $(VENV)/.installed
	$(PY) -m quantnb.demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -e ".[ib,ibapi,notebook,test,dask]"
	touch $@

# ib_insync and ib_async both install `eventkit`: the second client gets its own environment.
$(VENV_INSYNC)/.installed: pyproject.toml
	test -x $(PY_INSYNC) || $(PYTHON) -m venv $(VENV_INSYNC)
	$(PY_INSYNC) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY_INSYNC) -m pip install $(PIP_FLAGS) -e ".[ib-insync,test]"
	touch $@

test: test-core test-ibapi test-insync

test-core: $(VENV)/.installed browser
	$(PY) -m ruff check .
	$(PY) -m pytest -q -p no:cacheprovider -m "not ibapi" tests
	if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		$(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-current-env notebooks; fi

# IB's own client, ibapi 9.81 (server version 157): it shares no package name with ib_async, so
# it lives in the first environment.
test-ibapi: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -m ibapi tests/ibapi

test-insync: $(VENV_INSYNC)/.installed
	$(PY_INSYNC) -m pytest -q -p no:cacheprovider -m ib tests; rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "no IB tests collected"; else exit $$rc; fi

# The browser tests (the dashboard's page, and the quickstart in a real JupyterLab driven by
# playwright, both installed by the extras above) need Chromium; installed where the machine
# allows (root with apt), otherwise those tests are skipped with their reason. Playwright uses
# this Chromium: it never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1; } \
		|| echo "Chromium is not installed: the browser test will be skipped"

screenshots: $(VENV)/.installed browser
	$(PY) scripts/screenshots.py

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed
	$(PY) bench/backtest_speed.py
	$(PY) bench/sim_throughput.py
	$(PY) bench/live_latency.py
	$(PY) bench/sweep_speed.py

clean:
	rm -rf $(VENV) $(VENV_INSYNC) out build *.egg-info
