# Loupe: two commands for a newcomer (`make run`, `make test`); the rest is for developers.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
# X-Forwarded-For is believed only from these proxies (README, "Configuration"). uvicorn gets the same list: by
# default it trusts 127.0.0.1 and would rewrite the client's address from a header the client wrote.
LOUPE_TRUSTED_PROXIES ?=
UVICORN := $(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) --forwarded-allow-ips '$(LOUPE_TRUSTED_PROXIES)'

.PHONY: run test lint bench bench-frontend bench-export bench-prelabel bench-edge bench-fleet bench-smoke install install-train migrate seed serve
.PHONY: clean browser frontend frontend-test demo-detector cluster cluster-stop haproxy bench-cluster labelstudio bench-labelstudio

# Without LOUPE_SECRET_KEY the server starts only in local development (config/secret_key.py): the developer
# targets then run with LOUPE_DEBUG=true on the default loopback hosts, using a random key made once in
# var/secret_key. `make test` gets a fresh random key instead, so its servers run with debug off.
ifeq ($(LOUPE_SECRET_KEY)$(LOUPE_SECRET_KEY_FILE),)
run serve migrate seed frontend lint: export LOUPE_DEBUG ?= true
test: export LOUPE_SECRET_KEY := $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))')
endif

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The tests also run the reference trainer, so `make test` adds the `train` extra (torch 2.13.0, CPU build).
TRAIN_STAMP := $(VENV)/.installed-train-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
$(TRAIN_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,train]'
	rm -f $(VENV)/.installed-train-*
	touch $(TRAIN_STAMP)

install-train: $(TRAIN_STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## make run: install, migrate, seed the demo, serve on http://127.0.0.1:8000 (SQLite, local media)
run: seed frontend
	$(PY) manage.py collectstatic --noinput -v0
	@echo "Loupe is serving on http://$(HOST):$(PORT)/ (API docs: http://$(HOST):$(PORT)/api/docs/)"
	$(UVICORN) config.asgi:application

# uvicorn streams request bodies to the app, so upload limits apply before a body is read
# (daphne buffers the whole body in Twisted first).
serve: install
	$(UVICORN) config.asgi:application

## make test: install and run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
# The Python checks (mypy, most of a minute) and the frontend's install, build and tests run side by side.
test: install install-train browser haproxy
	$(MAKE) --no-print-directory -j3 --output-sync=target lint frontend-test labelstudio
	$(PY) manage.py makemigrations --check --dry-run -v0
	$(PY) -m pytest -q -p no:cacheprovider

## make frontend: the browser app into frontend/dist, type-checked against a freshly generated OpenAPI schema
frontend: install
	$(PY) manage.py spectacular --file frontend/openapi.json
	cd frontend && npm ci && npm run gen:api && npm run build

# The e2e tests drive Debian's Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The cluster (make cluster, tests/cluster) puts Debian's HAProxy in front of the web processes.
haproxy:
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || (apt-get update -qq && apt-get install -y -qq haproxy)

# The Label Studio link's tests (tests/labelstudio) and bench run a real Label Studio server from PyPI. It pins
# its own Django and friends, so it gets a virtualenv of its own; Loupe talks to it only over HTTP.
LABEL_STUDIO_VERSION := 1.23.2
LS_VENV := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION)
$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet 'label-studio==$(LABEL_STUDIO_VERSION)'
	touch $@
labelstudio: $(LS_STAMP)

## make cluster: HAProxy, 2 webs, 2 workers, beat and SeaweedFS (S3) as processes on the running PostgreSQL and
## Redis; migrates, seeds the demo and prints the URL and logins (deploy/local/cluster.py; CLUSTER_PORT=8100)
cluster: install haproxy frontend
	$(PY) deploy/local/cluster.py start

## make cluster-stop: end exactly the processes `make cluster` started (pids in var/cluster/pids)
cluster-stop:
	$(PY) deploy/local/cluster.py stop

frontend-test: frontend
	cd frontend && npm run lint && npm test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy config annotations reviewer activelearning edge loupe_wire loupe_synthetic loupe_vision
	$(VENV)/bin/lint-imports

## make bench: ingest throughput vs raw COPY on PostgreSQL (needs DATABASE_URL or a local server)
bench: install
	$(PY) bench/ingest.py

## make bench-frontend: submit → next image, drag among 500 boxes, bundle size (Chromium + PostgreSQL)
bench-frontend: frontend browser
	$(PY) bench/frontend.py

## make bench-export: COCO/YOLO export of 1,000,000 boxes (time, peak RSS) vs label-studio-sdk's converter
bench-export: install
	$(PY) bench/export.py
## make bench-prelabel: Detector.detect end to end vs bare onnxruntime, NMS vs a Python loop (no database)
bench-prelabel: install
	$(PY) bench/prelabel.py

## make bench-edge: the edge client draining 5,000 events with small frames vs a raw httpx loop (PostgreSQL)
bench-edge: install
	$(PY) bench/edge.py

## make bench-smoke: every bench at tiny sizes (seconds each), to see that each still runs; `make test` runs
## the same through tests/bench. Figures mean nothing. The frontend one needs `make frontend` done once.
bench-smoke: install browser haproxy labelstudio
	$(PY) bench/ingest.py --smoke
	$(PY) bench/claim.py --smoke
	$(PY) bench/export.py --smoke
	$(PY) bench/prelabel.py --smoke
	$(PY) bench/edge.py --smoke
	$(PY) bench/frontend.py --smoke
	$(PY) bench/cluster.py --smoke
	$(PY) bench/fleet.py --smoke
	$(PY) bench/labelstudio.py --smoke

## make bench-cluster: ingest and claim+submit straight to one web, through HAProxy with 1 and 2 webs (S3 media)
bench-cluster: install haproxy
	$(PY) bench/cluster.py

## make bench-fleet: 2,000 devices heartbeating and polling every 30 s: champion only, during a rollout, and
## polls served by HAProxy from a static file; server CPU per 1,000 devices; the alert sweep if present
bench-fleet: install haproxy
	$(PY) bench/fleet.py

## make bench-labelstudio: push 10,000 items to a real Label Studio vs its own bulk import of the same tasks;
## annotation there → Loupe version by webhook and by polling vs Label Studio's own create call
bench-labelstudio: install labelstudio
	$(PY) bench/labelstudio.py

# Remake the committed demo detector (needs torch: the `train` extra; ~35 min on 2 cores).
demo-detector: install-train
	nice -n 19 $(PY) -m activelearning.training.trainers.reference --out activelearning/demo/people-detector.onnx \
		--steps 2400 --batch 16 --max-minutes 36

clean:
	rm -rf var
