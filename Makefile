# Two commands matter: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi
SECRET_FILE := instance/secret_key

EVIDENCE_TESTS := tests/services/evidence tests/views/evidence tests/views/seller \
	tests/cli/test_evidence_gc.py tests/cli/test_evidence_s3.py tests/services/requests/test_filing.py \
	tests/services/requests/test_timeline.py tests/views/audit/test_prepared_exports.py

.PHONY: run test test-postgres test-s3 test-cluster security migrate screenshots bench load clean

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# A per-checkout secret for local runs, kept out of git (instance/ is ignored).
$(SECRET_FILE):
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@

# One process (the in-memory login throttle sees every attempt) with a fixed pool of threads: a
# team on one machine. Not `flask run`: its thread per request crashed CPython 3.11.7 under load
# (docs/benchmarks.md). bench/load starts the same server; a test keeps the two the same.
EMBEDDED_SERVER_ARGS = --worker-class gthread --workers 1 --threads 8

run: $(VENV)/.installed $(SECRET_FILE)
	SECRET_KEY=$$(cat $(SECRET_FILE)) $(FLASK) db upgrade
	SECRET_KEY=$$(cat $(SECRET_FILE)) $(FLASK) seed-demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	@# The e-mail sender (docs/notifications.md) runs beside the server and stops with it: on
	@# Ctrl-C, or when the server exits. Without SMTP_URL it sends nothing and the e-mails wait.
	@# Both in the background, stopped by the trap: gunicorn in the foreground took its 30 s
	@# graceful timeout to stop on Ctrl-C here.
	SECRET_KEY=$$(cat $(SECRET_FILE)) FLASK_SESSION_COOKIE_SECURE=false \
		PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} sh -c '\
		$(FLASK) notifications send & sender=$$!; \
		$(BIN)/gunicorn $(EMBEDDED_SERVER_ARGS) --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app & \
		server=$$!; trap "kill $$server $$sender 2>/dev/null" INT TERM; wait $$server; \
		status=$$?; kill $$sender 2>/dev/null; wait $$sender; exit $$status'

# PYTEST_ARGS narrows a run, e.g. PYTEST_ARGS="-m 'not browser'" or PYTEST_ARGS=tests/services.
test: $(VENV)/.installed
	$(BIN)/pytest -q -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

# The evidence suite with its files in S3: a private SeaweedFS server on loopback (docs/deployment.md).
test-s3: $(VENV)/.installed
	TEST_EVIDENCE_STORAGE=s3://desk-tests .ci/with-seaweedfs $(BIN)/pytest -q -n $${PYTEST_WORKERS:-2} \
		$${PYTEST_ARGS:-$(EVIDENCE_TESTS)}

# Two desk servers (gunicorn, 2 workers each) sharing PostgreSQL (127.0.0.1:5432), Redis
# (127.0.0.1:6379) and a private SeaweedFS S3 server (docs/deployment.md#the-two-server-test); under
# a minute. Here a missing PostgreSQL or Redis fails the test instead of skipping it.
test-cluster: $(VENV)/.installed
	CLUSTER_TEST_REQUIRED=1 .ci/with-seaweedfs $(BIN)/pytest -q -m cluster tests/harness/test_two_servers.py

# Static checks and known vulnerabilities. bandit fails on medium or high severity (it still
# counts the low ones); pip-audit fails on a known vulnerability in the pinned requirements and
# only warns when the vulnerability service cannot be reached (see .ci/audit_dependencies.py).
security: $(VENV)/.installed
	$(BIN)/bandit -r moderation_app wsgi.py --severity-level medium
	$(BIN)/python .ci/audit_dependencies.py -r requirements.txt --vulnerability-service osv

# After changing models: write a migration, then read it before committing.
migrate: $(VENV)/.installed
	FLASK_DEBUG=1 $(FLASK) db migrate -m "$(m)"

screenshots: $(VENV)/.installed
	$(BIN)/python docs/take_screenshots.py

bench: $(VENV)/.installed
	$(BIN)/python bench/import_million.py

# The load test (docs/benchmarks.md): 60 s on `flask run` + SQLite, then 60 s on gunicorn -w 4 +
# PostgreSQL (127.0.0.1:5432) with a private redis-server; under 3 minutes. Exits 1 if a check fails.
# LOAD_SECONDS=30 or LOAD_SERVERS=sqlite narrow a run; LOAD_ARGS="--keep" and the like pass on.
load: $(VENV)/.installed
	$(BIN)/python -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
