# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
# The sandbox demo API runs inside this same server, so actions must be allowed to call it. It is
# served as localhost, a name the demo's allowlist can hold (local development only: the
# allowlist then also accepts IP addresses and `localhost`); see seed_demo.
RUN_ENV := DEBUG=true OUTBOUND_ALLOW_PRIVATE=127.0.0.1:$(PORT),localhost:$(PORT) SITE_URL=http://localhost:$(PORT) ACTION_DOMAIN_ALLOW_IP_LITERALS=true
# uvicorn serves config.asgi (the site and the MCP endpoints); under ASGI every Django request
# runs in a thread of its own, so connections are not kept between requests.
SERVE_ENV := $(RUN_ENV) DATABASE_CONN_MAX_AGE=0
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/actions

.PHONY: run test worker token venv lint bench browser-deps clean

$(BIN)/activate: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

run: venv
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo
	@echo "Serving http://localhost:$(PORT)  (log in with a user printed above; Ctrl-C stops)"
	@echo "MCP endpoints: http://localhost:$(PORT)/mcp/gpts/<id> (turn MCP on for a workspace first)"
	$(SERVE_ENV) $(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --lifespan on

# A REST API bearer token for a user of the `make run` database, with the same environment (the
# settings refuse to start without SECRET_KEY unless DEBUG is on): make token USER=alice
# [SCOPE="read write mcp"] [DAYS=30]. USER must be given on the command line: the shell's own
# $$USER is not a user of the demo.
SCOPE ?= read write mcp
DAYS ?= 30
token: venv
	@test "$(origin USER)" = "command line" || (echo "Usage: make token USER=alice [SCOPE=\"read write mcp\"]"; exit 2)
	$(RUN_ENV) $(PY) manage.py issue_api_token "$(USER)" --scope "$(SCOPE)" --days "$(DAYS)"

# -B runs Celery beat inside the worker (re-dispatches imports a broker outage left waiting);
# with several workers, run one `celery -A config beat` instead.
worker: venv
	$(RUN_ENV) $(BIN)/celery -A config worker -B --loglevel=info --concurrency=2

# The whole suite against PostgreSQL, with a real Redis broker and Celery worker for the
# integration tests and Debian's Chromium for the browser tests.
test: venv browser-deps
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/pytest $(PYTEST_ARGS)

browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "Chromium is missing and could not be installed: browser tests will fail."

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# Benchmarks print figures measured against a baseline in the same run (see bench/README.md).
bench: venv
	$(PY) bench/schema_validate.py
	$(PY) bench/domain_check.py
	$(PY) bench/outbound_overhead.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/runtime_overhead.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/chat_overhead.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/mcp_overhead.py
	$(PY) bench/load_test.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
