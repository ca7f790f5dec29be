# Two commands on a fresh machine: `make run` (the seeded demo, embedded) and `make test`.
# Everything else here serves those two, the stack mode, or CI.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-unit lint typecheck schema deploy-check stack worker bench bench-quick clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@# The periodic tasks (stale lots, webhook retries, pending certificates) run beside the web
	@# server in the embedded mode (lims/embedded_beat.py), and stop with it.
	$(BIN)/python manage.py embedded_beat & beat=$$!; trap 'kill $$beat 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev-installed
	$(BIN)/pytest $(PYTEST_ARGS)

# The pure, fast part: no database, no broker.
test-unit: $(VENV)/.dev-installed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy .

schema: $(VENV)/.dev-installed
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(or $(SCHEMA_FILE),/dev/null)

# Production settings must pass Django's deployment checks with no warning.
deploy-check: $(VENV)/.runtime-installed
	LIMS_ENV=production LIMS_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	LIMS_ALLOWED_HOSTS=lims.example.org LIMS_VAR_DIR=$$(mktemp -d) \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

# Stack mode: gunicorn + Celery worker + beat against DATABASE_URL and CELERY_BROKER_URL.
stack: $(VENV)/.runtime-installed
	@test -n "$$DATABASE_URL" || (echo "make stack needs DATABASE_URL (PostgreSQL)"; exit 2)
	@test -n "$$CELERY_BROKER_URL" || (echo "make stack needs CELERY_BROKER_URL (Redis)"; exit 2)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile

worker: $(VENV)/.runtime-installed
	$(BIN)/celery -A lims worker --loglevel=INFO

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run_all.py

bench-quick: $(VENV)/.dev-installed
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache test-results
