# Haven: `make run` for a local demo, `make test` for lint and the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KANON := .venv-kanon
KANON_STAMP := $(KANON)/.installed
PORT ?= 8000
DEMO_ENV := HAVEN_DEMO=1 DJANGO_SECURE_SSL_REDIRECT=0

.PHONY: run test lint typecheck unit browser install clean bench bench-peers catalogues messages

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Haven needs Python 3.11 or newer" >&2; exit 1)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(KANON_STAMP): requirements-kanon.txt
	test -d $(KANON) || $(PYTHON) -m venv $(KANON)
	$(KANON)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-kanon.txt
	touch $(KANON_STAMP)

install: $(STAMP) $(KANON_STAMP)

# The interface translations: compiled from locale/*/LC_MESSAGES/django.po (the .mo
# files are built, never committed). Django's compilemessages when GNU gettext is
# installed, else the same in pure Python (polib).
catalogues: $(STAMP)
	@if command -v msgfmt >/dev/null 2>&1; then \
		DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py compilemessages --ignore='.venv*' -v 0; \
	else \
		DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py compile_catalogues; \
	fi

# After marking new text: refresh every catalogue (needs GNU gettext), then translate
# the new entries (docs/translation.md).
messages: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py makemessages --all --no-location --ignore='.venv*' \
		--ignore=tests --ignore=bench --ignore=staticfiles --ignore=var --ignore=node_modules

run: $(STAMP) catalogues
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py collectstatic --noinput -v 0
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo
	@$(DEMO_ENV) $(BIN)/python manage.py demo_banner --port $(PORT)
	$(DEMO_ENV) $(BIN)/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 \
		--access-logfile - --access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(M)sms'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-cache
	DJANGO_SETTINGS_MODULE=config.settings_test $(BIN)/python manage.py makemigrations --check --dry-run

unit: $(STAMP) $(KANON_STAMP) catalogues
	$(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

browser: $(STAMP) catalogues
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

test: lint $(KANON_STAMP) catalogues
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) bench-peers
	$(BIN)/python -m bench $(BENCH_ARGS)

# The libraries the peer benchmark measures Haven against; never part of the app.
bench-peers: $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-bench.txt

clean:
	rm -rf $(VENV) $(KANON) var/*.sqlite3* staticfiles
