# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-postgres bench bench-peers lint format lock

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Re-resolve every dependency to the newest allowed by pyproject.toml and pin
# the result in requirements.lock (what `make install` installs).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^retry-admin' > requirements.lock
	rm -rf .lock-venv build

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_retry_admin
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	bash scripts/run.sh

test: install
	bash scripts/browser.sh
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py

# The same 20,000-message job through django-q2 (ORM broker) and Celery on
# Redis, one task per message, beside the product (bench/peers.py).
bench-peers: install
	$(PY) bench/peers.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
