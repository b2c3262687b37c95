# Loupe: two commands for a newcomer (`make run`, `make test`); the rest is for developers.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install migrate seed serve clean browser
.PHONY: frontend frontend-test bench-prelabel demo-detector

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## make run: install, migrate, seed the demo, serve on http://127.0.0.1:8000 (SQLite, local media)
run: seed frontend
	$(PY) manage.py collectstatic --noinput -v0
	@echo "Loupe is serving on http://$(HOST):$(PORT)/ (API docs: http://$(HOST):$(PORT)/api/docs/)"
	$(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) config.asgi:application

# uvicorn streams request bodies to the app, so upload limits apply before a body is read
# (daphne buffers the whole body in Twisted first).
serve: install
	$(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) config.asgi:application

## make test: install and run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
test: install lint frontend frontend-test browser
	$(PY) manage.py makemigrations --check --dry-run -v0
	$(PY) -m pytest -q -p no:cacheprovider

## make frontend: the browser app into frontend/dist, type-checked against a freshly generated OpenAPI schema
frontend: install
	$(PY) manage.py spectacular --file frontend/openapi.json
	cd frontend && npm ci && npm run gen:api && npm run build

# The e2e tests drive Debian's Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

frontend-test: frontend
	cd frontend && npm run lint && npm test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy config annotations reviewer activelearning

## make bench: ingest throughput vs raw COPY on PostgreSQL (needs DATABASE_URL or a local server)
bench: install
	$(PY) bench/ingest.py

## make bench-prelabel: Detector.detect end to end vs bare onnxruntime, NMS vs a Python loop (no database)
bench-prelabel: install
	$(PY) bench/prelabel.py

# Remake the committed demo detector (needs torch: the `train` extra; ~35 min on 2 cores).
demo-detector: install
	$(PY) -m pip install --quiet -e '.[train]'
	nice -n 19 $(PY) -m activelearning.trainers.reference --out activelearning/demo/people-detector.onnx \
		--steps 2400 --batch 16 --max-minutes 36

clean:
	rm -rf var
