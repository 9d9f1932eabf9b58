# hatereport: `make run` to serve, `make test` to test. Everything installs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
LOCALES_DIR := translations
BABEL_KEYWORDS := --no-default-keywords -k _ -k N_ -k gettext:2 -k ngettext:2,3
TEST_POSTGRES ?= $(or $(HATEREPORT_TEST_POSTGRES),postgresql://postgres@127.0.0.1:5432/postgres)

.PHONY: run test bench install install-test browser fonts postgres extract update-catalogs \
        compile-catalogs check-catalogs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed compile-catalogs fonts

install-test: $(VENV)/.installed-test compile-catalogs fonts browser postgres

## The PostgreSQL server the database tests also run on (127.0.0.1:5432, trust auth for
## postgres, as on this project's machines): started if it is installed but stopped.
postgres:
	@if ! $(BIN)/python -c "import psycopg; psycopg.connect('$(TEST_POSTGRES)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "PostgreSQL is not answering at 127.0.0.1:5432: starting it"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  if ! command -v pg_ctlcluster >/dev/null 2>&1; then \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	  fi; \
	  $$SUDO pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start || true; \
	fi

## Fonts for the printable figures (PDF): Noto for Gurmukhi, Arabic script and Ethiopic,
## and the Pango libraries WeasyPrint draws text with (Debian's packages).
fonts:
	@if ! fc-list 2>/dev/null | grep -q 'Noto Sans Gurmukhi' \
	    || ! fc-list 2>/dev/null | grep -q 'Noto Naskh Arabic' \
	    || ! fc-list 2>/dev/null | grep -q 'Noto Sans Ethiopic'; then \
	  echo "installing Debian's fonts-noto-core"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fontconfig fonts-noto-core >/dev/null; \
	fi
	@if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libpangoft2-1.0.so.0'; then \
	  echo "installing Pango for WeasyPrint"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; \
	fi

## Debian's Chromium for the browser tests (never a downloaded browser).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

run: install
	$(BIN)/hatereport serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m ruff check intake bot web tests tools bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python bench/chat_bench.py
	$(BIN)/python bench/sms_bench.py
	$(BIN)/python bench/casework_bench.py
	$(BIN)/python bench/language_bench.py
	$(BIN)/python bench/monitoring_bench.py

## Translations: extract marked strings, merge into every catalog, compile .mo files.
extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --sort-by-file \
	  -o $(LOCALES_DIR)/messages.pot .

update-catalogs: extract
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) \
	  --no-fuzzy-matching
	$(BIN)/python tools/catalogs.py fill-english

check-catalogs: $(VENV)/.installed
	$(BIN)/python tools/catalogs.py check

compile-catalogs: $(VENV)/.installed
	$(BIN)/pybabel compile -d $(LOCALES_DIR) --statistics

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
