# The two commands of the Quick start are `make run` and `make test`; the rest serve them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
PYTHON := .venv/bin/python
# The suite runs on this many pytest-xdist workers (auto: one per CPU), each with a test
# database, a broker (a Redis database or a broker database) and ports of its own.
PYTEST_WORKERS ?= auto
PYTEST := $(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: run test validation-report bench load install uv system-deps node-deps lint typecheck messages run-prod clean

run: install ## the app (gunicorn), a Celery worker and beat on the embedded PostgreSQL, as the app's role
	$(PYTHON) scripts/run_local.py

test: install system-deps node-deps ## lint, layers, types and the whole suite
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	.venv/bin/lint-imports
	$(PYTHON) -m mypy ecrf randomization
	$(PYTEST) $(PYTEST_ARGS)

bench: uv ## benchmarks (not part of the tests), one JSON line each
	$(UV) sync --frozen --group bench
	PYTHONPATH=. $(PYTHON) bench/run.py $(BENCHMARKS)

load: install ## locust against gunicorn and a Celery worker, 60 s, loopback only
	PYTHONPATH=. $(PYTHON) loadtest/run.py $(LOAD_ARGS)

# The whole suite once (its plugin writes test-artifacts/validation/results.json), then the
# requirement-to-test report from those results, whatever the suite's outcome; the target
# fails when the suite failed or a requirement is not proven by tests that all ran and passed.
validation-report: install system-deps node-deps ## run the suite, then test-artifacts/validation/validation-report.{md,html}
	@rm -f test-artifacts/validation/results.json; \
	status=0; $(PYTEST) $(PYTEST_ARGS) || status=$$?; \
	$(PYTHON) scripts/validation_report.py || exit $$?; \
	exit $$status

install: uv
	$(UV) sync --frozen

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || pip install --quiet uv

# axe-core, which the browser tests inject into each page, exactly as package-lock.json
# locks it: installed when missing or when the lock changed since the last install.
node-deps:
	@if [ ! -f node_modules/axe-core/axe.min.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund --loglevel=error; \
	fi

# Debian's chromium for the browser tests, a Japanese font for their screenshots, npm for
# axe-core and gettext for the message catalogues, installed where missing and this user may.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -n "$$(fc-list :lang=ja 2>/dev/null)" ] || missing="$$missing fonts-noto-cjk"; \
	ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing$$missing (install with apt-get as root); their tests will be skipped."; \
	  fi; \
	fi

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	.venv/bin/lint-imports

typecheck: install
	$(PYTHON) -m mypy ecrf randomization

messages: install ## refresh the Japanese catalogue from the code and compile it
	$(PYTHON) manage.py makemessages -l ja --no-obsolete --add-location file -i ".venv/*" -i "var/*" -i "node_modules/*"
	$(PYTHON) manage.py compilemessages -l ja -i ".venv" -i "var"

run-prod: install ## gunicorn, worker and beat with production settings (see README)
	DATABASE_URL="$${DATABASE_OWNER_URL:-$$DATABASE_URL}" DJANGO_SETTINGS_MODULE=ecrf.settings.production $(PYTHON) manage.py migrate --no-input
	DJANGO_SETTINGS_MODULE=ecrf.settings.production $(PYTHON) manage.py collectstatic --no-input
	DJANGO_SETTINGS_MODULE=ecrf.settings.production .venv/bin/gunicorn ecrf.wsgi -w $${WEB_CONCURRENCY:-4} -b $${BIND:-127.0.0.1:8000}

clean:
	rm -rf .venv var/staticfiles test-artifacts
