# Two commands on a fresh machine: `make run` (API with demo data, no servers needed) and
# `make test`. Everything else here is what those two are made of.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The one browser origin `make run` lets call the API (a web client's dev server); CORS_ALLOWED_ORIGINS overrides it.
RUN_CORS_ORIGIN ?= http://localhost:5173
# The web app's page a password reset mail links to (printed on the console under `make run`).
PASSWORD_RESET_URL ?= http://$(HOST):$(PORT)/\#/reset/{uid}/{token}

.PHONY: run serve worker test test-unit test-integration lint schema bench bench-quick docs docs-build chaos clean

$(VENV)/.run-deps: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: $(VENV)/.run-deps requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.docs-deps: $(VENV)/.run-deps requirements-docs.txt
	$(PY) -m pip install --quiet -r requirements-docs.txt
	touch $@

$(VENV)/.bench-deps: $(VENV)/.dev-deps requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

# A development key, made once and kept out of git, so tokens survive a restart of `make run`.
var/secret_key:
	mkdir -p var
	$(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

## run: serve the API on http://$(HOST):$(PORT) with demo data (embedded SQLite + fakeredis
## unless DATABASE_URL / REDIS_URL are set). Safe to re-run.
run: $(VENV)/.run-deps var/secret_key
	@echo "Resee for learners: http://$(HOST):$(PORT)/ (demo / demo-pass-123); the API's docs: http://$(HOST):$(PORT)/api/docs/"
	DEBUG=$${DEBUG:-1} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} \
	  CORS_ALLOWED_ORIGINS=$${CORS_ALLOWED_ORIGINS-$(RUN_CORS_ORIGIN)} \
	  PASSWORD_RESET_URL='$(PASSWORD_RESET_URL)' sh -c '\
	  $(PY) manage.py migrate --noinput && \
	  $(PY) manage.py seed_demo && \
	  exec $(PY) manage.py runserver $(HOST):$(PORT)'

## serve: the production server (uWSGI, 2 workers, resee/serve.py) on http://$(HOST):$(PORT),
## DEBUG off, on DATABASE_URL / REDIS_URL when set, else SQLite and one fakeredis the workers share.
serve: $(VENV)/.run-deps var/secret_key
	SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} HOST=$(HOST) PORT=$(PORT) sh -c '\
	  $(PY) manage.py migrate --noinput && exec $(PY) -m resee.serve'

## worker: a Celery worker for deck imports, on CELERY_BROKER_URL (default: the local RabbitMQ,
## guest/guest) and REDIS_URL. Without REDIS_URL there is nothing to share with it: `make run`
## then runs jobs in a thread of its own.
WORKER_ARGS ?= --loglevel=INFO

worker: $(VENV)/.run-deps var/secret_key
	@if [ -z "$$REDIS_URL" ]; then echo "make worker needs REDIS_URL (and DATABASE_URL) shared with the API; without them make run runs jobs itself" >&2; exit 2; fi
	SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} $(VENV)/bin/celery -A resee.celery worker $(WORKER_ARGS)

## test: unit tests (SQLite + fakeredis, no servers), then the whole suite again against the
## real PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (integration tests skip,
## with the reason, when they are not; in CI they must be set).
test: lint test-unit test-integration

test-unit: $(VENV)/.dev-deps
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

test-integration: $(VENV)/.dev-deps
	@if [ -n "$$DATABASE_URL$$REDIS_URL" ]; then \
	  echo "== whole suite against DATABASE_URL=$${DATABASE_URL:-<sqlite>} REDIS_URL=$${REDIS_URL:-<embedded>}"; \
	  $(PY) -m pytest $(PYTEST_ARGS); \
	else \
	  $(PY) -m pytest -m integration $(PYTEST_ARGS); \
	fi

lint: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check .

## schema: write and validate the OpenAPI document
schema: $(VENV)/.run-deps
	mkdir -p var
	DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yml

## bench-quick: the benchmark on small data (a few minutes); bench: the full run (the first run also
## seeds 500 users). Both use DATABASE_URL / REDIS_URL when set (in databases and keys of their own),
## else SQLite + fakeredis, and say which; the load over HTTP needs Debian's wrk. Table on stdout,
## JSON in bench/results/latest.json. BENCH_ARGS passes options (python -m bench --help).
BENCH_ARGS ?=

bench-quick: $(VENV)/.bench-deps
	$(PY) -m bench --quick $(BENCH_ARGS)

bench: $(VENV)/.bench-deps
	$(PY) -m bench $(BENCH_ARGS)

## docs: serve the documentation site on http://$(HOST):$(DOCS_PORT), rebuilt on every edit;
## docs-build: build it into site/ as CI does (strict: a broken link or a missing page fails).
## Both first write the generated parts (python -m docsgen: configuration, OpenAPI, figures).
DOCS_PORT ?= 8001

docs: $(VENV)/.docs-deps
	$(VENV)/bin/mkdocs serve --dev-addr $(HOST):$(DOCS_PORT)

docs-build: $(VENV)/.docs-deps
	$(VENV)/bin/mkdocs build --strict --site-dir site

## chaos: the API as deployed (uWSGI, 2 workers) on a PostgreSQL and a Redis of its own (free
## loopback ports; needs redis-server, initdb and pg_ctl), learners over HTTP, every fault kind on a
## seeded schedule, the history checked. Table on stdout, var/chaos/report.json and timeline.svg;
## exits 1 on any anomaly. CHAOS_ARGS passes options (python -m chaos --help), e.g. --seed 7.
CHAOS_ARGS ?=

chaos: $(VENV)/.dev-deps
	$(PY) -m chaos --out var/chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) var site .pytest_cache .hypothesis
