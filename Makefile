# Maillage: `make run` (demo territory on SQLite, web + clock) and `make test` (every test).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := app

.PHONY: run test lint install system-deps migrate demo bench clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

# What the browser tests, the PDF poster and the ical.js reader of the feed tests (node) need from
# Debian (root on CI and dev machines).
system-deps:
	@if ! command -v chromium >/dev/null || ! ldconfig -p | grep -q libpango-1.0 || ! command -v pdftoppm >/dev/null || ! command -v node >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 poppler-utils nodejs >/dev/null; \
	fi

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo load
	$(BIN)/flask conflicts detect

# The development SECRET_KEY is accepted only outside production (settings.py production_problems).
run bench: export MAILLAGE_ENV ?= development

run: demo
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho -f Procfile.dev start

# The linters first, then the docs: each fails fast, before the long pytest run. ruff's rules are in
# pyproject.toml, with the layering as banned imports in the ruff.toml of models/, scheduler/, api/, web/;
# mypy's (which packages it checks) there too.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# A broken link or anchor in the docs fails the target (site/ is git-ignored; no --quiet: it hides the warnings that --strict counts).
test: install lint system-deps
	$(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	@for b in bench/[a-z]*.py; do case $$b in bench/national.py) ;; *) $(BIN)/python $$b || exit 1;; esac; done

clean:
	rm -rf $(VENV) instance .pytest_cache site
