# CTPAT Portal: `make run` serves the portal with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
VENDOR := portal/static/vendor

.PHONY: run test serve lint setup venv assets db demo clean

run: setup db demo
	@echo ""
	@echo "CTPAT Portal on http://127.0.0.1:5000  (demo password: ctpat-demo-2026!)"
	@$(FLASK) demo-data | tail -n +2
	$(FLASK) run --host 127.0.0.1 --port 5000

# Two workers on this two-core class of machine; each gets its own database.
PYTEST_ARGS ?= -n 2

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: setup db
	$(BIN)/gunicorn --workers $$(( 2 * $$(nproc) + 1 )) --bind 127.0.0.1:8000 --timeout 60 \
		--max-requests 2000 --max-requests-jitter 200 --access-logfile - wsgi:app

lint: setup
	$(BIN)/ruff check .

setup: venv assets

venv: $(BIN)/.installed

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/uswds $(VENDOR)/axe-core
	cp -r node_modules/@uswds/uswds/dist/css node_modules/@uswds/uswds/dist/js \
		node_modules/@uswds/uswds/dist/img node_modules/@uswds/uswds/dist/fonts $(VENDOR)/uswds/
	cp node_modules/@uswds/uswds/LICENSE.md $(VENDOR)/uswds/
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe-core/
	touch $@

db: venv
	mkdir -p instance
	$(FLASK) db upgrade

demo: venv
	$(FLASK) demo-data > /dev/null

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache

# Benchmarks (issue 9, docs/PERFORMANCE.md). BENCH_ACCOUNTS defaults to the issue's 10,000 accounts;
# BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ctpat_bench runs them on PostgreSQL
# (databases ctpat_bench_100 and ctpat_bench_<n> are recreated). Generated SQLite files: instance/bench/.
BENCH_ACCOUNTS ?= 10000
BENCH_DATABASE_URL ?=
BENCH_ARGS = --accounts $(BENCH_ACCOUNTS) $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

.PHONY: bench bench-generate bench-pages bench-throughput bench-instructions

bench: bench-pages bench-throughput

bench-generate: setup
	$(BIN)/python -m bench.generate $(BENCH_ARGS)

bench-pages: setup
	$(BIN)/python -m bench.pages $(BENCH_ARGS) $(BENCH_PAGES_ARGS)

bench-throughput: setup
	$(BIN)/python -m bench.throughput $(BENCH_ARGS) $(BENCH_THROUGHPUT_ARGS)

# Instructions per request under Valgrind (Debian package valgrind): steady where timings are not.
bench-instructions: setup
	$(BIN)/python -m bench.instructions $(BENCH_ARGS)
