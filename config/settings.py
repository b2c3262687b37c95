"""Loupe settings: everything comes from the environment (see DESIGN.md, "Settings and the two modes").

With no variables set, Loupe runs embedded: SQLite under var/, media under var/media, an in-memory
channel layer and eager Celery tasks, so `make run` works on any laptop.

Why this file is long: every setting an operator can change is here, each read once from the environment with
its default and the reason beside it; one file is the one place to look.
"""

import sys
from pathlib import Path
from typing import Any

import dj_database_url

from config.env import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_json_commands,
    env_list,
    env_networks,
    env_port,
    env_rate,
    env_redis_url,
    env_str,
    parse_database_url,
)
from config.secret_key import resolve_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LOUPE_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("LOUPE_DEBUG", default=False)
ALLOWED_HOSTS = env_list("LOUPE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
# --- Secret key (config/secret_key.py): no key in the repository; weak keys refused outside local development.
LOUPE_PRODUCTION = env_bool("LOUPE_PRODUCTION", default=False)
SECRET_KEY = resolve_secret_key(key=env_str("LOUPE_SECRET_KEY"), production=LOUPE_PRODUCTION, debug=DEBUG,
                                allowed_hosts=ALLOWED_HOSTS, var_dir=VAR_DIR)
CSRF_TRUSTED_ORIGINS = env_list("LOUPE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "annotations",
    "reviewer",
    "activelearning",
]

MIDDLEWARE = [
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.path_ids.PathIdRangeMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL: str = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'loupe.sqlite3'}"


def _database(name: str, url: str) -> dict[str, Any]:
    database: dict[str, Any] = dict(parse_database_url(
        name, url, lambda url: dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)))
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers proceed while the single writer commits; IMMEDIATE avoids lock upgrades.
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        database["CONN_MAX_AGE"] = 0
    elif database["ENGINE"] == "django.db.backends.postgresql" and env_bool("LOUPE_DB_POOL", default=True):
        # Under ASGI each request runs in its own thread, so per-thread persistent connections are never
        # reused: without a pool every request would open a new PostgreSQL connection.
        database["CONN_MAX_AGE"] = 0
        database["CONN_HEALTH_CHECKS"] = False
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": env_int("LOUPE_DB_POOL_SIZE", 20), "timeout": 10,
        }
    return database


DATABASES = {"default": _database("DATABASE_URL", DATABASE_URL)}
# An optional PostgreSQL streaming replica for the dashboards' heavy reads, and only those
# (annotations/dbrouting.py reporting_db(); docs/deploy.md): no router sends other reads there.
if DATABASE_REPLICA_URL := env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = _database("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL)
    if {DATABASES["replica"]["ENGINE"], DATABASES["default"]["ENGINE"]} != {"django.db.backends.postgresql"}:
        raise ConfigError("DATABASE_REPLICA_URL is for a PostgreSQL replica of a PostgreSQL DATABASE_URL")
    # Tests run against no real replica: the alias reads the default test database (Django's test mirror).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
REQUIRE_POSTGRES = env_bool("REQUIRE_POSTGRES", default=False)
if REQUIRE_POSTGRES and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigError("REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channels, Celery ----------------------------------------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    # Several Loupe instances may share one Redis: each keeps its channel groups and its Celery queues under a
    # prefix of its own (as LOUPE_CACHE_KEY_PREFIX does for the cache below), so none consumes another's work.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [REDIS_URL], "prefix": env_str("LOUPE_CHANNELS_PREFIX", "asgi") or "asgi"}}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = env_bool("LOUPE_CELERY_EAGER", default=False)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
    if _celery_prefix := env_str("LOUPE_CELERY_KEY_PREFIX"):
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _celery_prefix
    # A task taken by a worker that dies (SIGKILL, power cut) is unacknowledged (acks_late) and goes back to the
    # queue once it has been out this long: Redis has no per-connection acks, so this is how another worker
    # finishes it. It must exceed the longest task (a re-delivered task runs twice; every task is idempotent,
    # e.g. a training run is taken once). Unset: kombu's hour. The sweep then looks every tenth of it.
    if _visibility := env_int("LOUPE_CELERY_VISIBILITY_TIMEOUT", 0):
        CELERY_BROKER_TRANSPORT_OPTIONS |= {"visibility_timeout": _visibility,
                                            "unacked_restore_interval": max(1, _visibility // 10),
                                            "unacked_restore_throttle": 1}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# With late acks a worker takes one message at a time: a prefetched one would wait behind a long task, and
# with the worker it would be lost until the visibility timeout.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"  # never pickle
CELERY_ACCEPT_CONTENT = ["json"]
# The outboxes are also swept on a timer, so work a crashed process had committed is never left behind.
CELERY_BEAT_SCHEDULE = {
    "dispatch-retrain-requests": {"task": "training.dispatch_requests", "schedule": 60.0},
    "fail-stale-training-runs": {"task": "training.fail_stale_runs", "schedule": 60.0},
    "deliver-webhooks": {"task": "webhooks.deliver", "schedule": 30.0},
    # Not an outbox: drift is recomputed from the data, so a missed run only delays an alert to the next one.
    "compute-drift": {"task": "monitoring.compute_drift", "schedule": 900.0},
    # Staged rollouts' gates: a halt is as late as this period; an overlapping run moves no stage twice.
    "evaluate-rollouts": {"task": "rollouts.evaluate", "schedule": 60.0},
    # Alerts (docs/alerts.md): an alert opens or resolves at most this late; overlapping sweeps open nothing twice.
    "sweep-alerts": {"task": "alerts.sweep", "schedule": 60.0},
    # Daily: limits are in days, and a missed run only keeps data a day longer (docs/retention.md).
    "prune-retention": {"task": "retention.prune", "schedule": 86400.0},
}
# One queue per kind of work, so a deployment can give each its own workers (docs/deploy.md, deploy/k8s/): a
# burst of exports never delays the pre-labels reviewers wait for. A worker started without `-Q` consumes every
# queue listed here (`make run`, the tests, deploy/compose.yaml); `-Q prelabels` takes one. Shadow evaluations
# go with training: both are long and feed the promotion gate, not the ingest path. The rest keeps Celery's
# default queue, `celery`, which is also where every message queued before these routes existed still waits.
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name}
                      for name in ("celery", "prelabels", "exports", "training", "webhooks")}
CELERY_TASK_ROUTES = {
    "registry.prelabel_items": {"queue": "prelabels"},
    "registry.evaluate": {"queue": "training"},
    "datasets.*": {"queue": "exports"},
    "training.*": {"queue": "training"},
    "webhooks.*": {"queue": "webhooks"},
}
# Pre-label jobs are sent after the ingest commit; one lost with its process (killed between the two) is sent again
# by this sweep, for items still without a pre-label this many seconds after they were queued.
LOUPE_PRELABEL_SWEEP_SECONDS = env_float("LOUPE_PRELABEL_SWEEP_SECONDS", 300.0)
CELERY_BEAT_SCHEDULE["sweep-missed-prelabels"] = {"task": "registry.sweep_prelabels",
                                                  "schedule": LOUPE_PRELABEL_SWEEP_SECONDS / 2}

# --- Rate limits, trusted proxies, the cache that holds the counters (annotations/throttling.py) -----
# X-Forwarded-For is believed only when the direct peer is one of these proxies (IPs or CIDRs, comma-separated),
# walking the header from the right past every trusted hop; empty (the default): the peer is the client. Give
# uvicorn the same list (`--forwarded-allow-ips`, as `make run`/`make serve` do), or it rewrites the peer
# address from the header itself for connections from 127.0.0.1.
LOUPE_TRUSTED_PROXIES = env_networks("LOUPE_TRUSTED_PROXIES")
# Requests per window per scope ("600/min", "20/hour", "100/5min"); past it: 429 `rate_limited` + Retry-After.
# Each is read from LOUPE_RATE_<SCOPE>, e.g. LOUPE_RATE_DEVICE_MEDIA. The device scopes count per device token,
# claim and media_read per person, the *_address scopes per client address and *_account per target account.
_RATE_DEFAULTS = {
    "login_address": "20/min",
    "login_account": "10/min",
    "password_reset_address": "20/hour",
    "password_reset_account": "5/hour",
    "password_set_address": "20/min",
    "password_set_account": "10/min",
    # A device drains a backlog as fast as it can: up to 500 events a batch, a HEAD and a PUT per frame.
    "device_events": "600/min",
    "device_media": "3000/min",
    "device_heartbeat": "120/min",
    "claim": "600/min",
    # A clip scrubbed in the editor fetches its frames one by one; a list of items, a thumbnail each.
    "media_read": "6000/min",
}
LOUPE_RATE_LIMITS = {scope: env_rate(f"LOUPE_RATE_{scope.upper()}", rate) for scope, rate in _RATE_DEFAULTS.items()}
# The counters live in Redis when there is one, so a limit holds across server processes and replicas; the
# embedded mode is one process, where memory is enough. A Redis outage lets requests through (logged).
LOUPE_CACHE_KEY_PREFIX = env_str("LOUPE_CACHE_KEY_PREFIX", "loupe") or "loupe"
if REDIS_URL:
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
        "KEY_PREFIX": LOUPE_CACHE_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
    }}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "loupe",
                          "KEY_PREFIX": LOUPE_CACHE_KEY_PREFIX}}

# --- Media storage --------------------------------------------------------------------------------
MEDIA_STORAGE = env_str("MEDIA_STORAGE", str(VAR_DIR / "media")) or ""
MEDIA_URL = "/media/"
if MEDIA_STORAGE.startswith("s3://"):
    _bucket = MEDIA_STORAGE.removeprefix("s3://").strip("/")
    _s3_options: dict[str, object] = {"bucket_name": _bucket, "querystring_auth": True, "file_overwrite": True}
    # An S3-compatible server (MinIO, SeaweedFS) is named by its URL and usually wants path-style addressing
    # (the bucket in the path, not in the host name). Unset: AWS itself. Credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, read by boto3.
    for _option, _variable in (("endpoint_url", "AWS_S3_ENDPOINT_URL"), ("addressing_style", "AWS_S3_ADDRESSING_STYLE"),
                               ("region_name", "AWS_S3_REGION_NAME")):
        if _value := env_str(_variable):
            _s3_options[_option] = _value
    STORAGES = {"default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}}
    MEDIA_ROOT = str(VAR_DIR / "media")
else:
    MEDIA_ROOT = MEDIA_STORAGE
    STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
# Uploads are spooled to disk in this folder, hashed, verified, and only then moved into place; it sits
# inside the media folder by default so the final move is an atomic rename on one filesystem.
LOUPE_UPLOAD_TMP_DIR = Path(env_str("LOUPE_UPLOAD_TMP_DIR", str(Path(MEDIA_ROOT) / ".upload-tmp")) or "")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The built browser app (Vite, `base: "/static/app/"`) is served by whitenoise under /static/app/, and its
# index.html as the shell of / and /app/... (config/spa.py). Without a build the site still starts.
LOUPE_FRONTEND_DIST = Path(env_str("LOUPE_FRONTEND_DIST", str(BASE_DIR / "frontend" / "dist")) or "")
STATICFILES_DIRS = [("app", LOUPE_FRONTEND_DIST)] if LOUPE_FRONTEND_DIST.is_dir() else []
# Serve straight from the finders (no collectstatic) when debugging or under a test server.
WHITENOISE_USE_FINDERS = env_bool("LOUPE_STATIC_FINDERS", default=DEBUG)
# Vite names its output by content hash (assets/index-B3x9_kQ1.js): browsers may cache those forever.
WHITENOISE_IMMUTABLE_FILE_TEST = r"/app/assets/[^/]+-[0-9A-Za-z_-]{8,}\.\w+$"

# --- Ingest limits (API.md: bound every upload) ---------------------------------------------------
LOUPE_MAX_UPLOAD_BYTES = env_int("LOUPE_MAX_UPLOAD_BYTES", 64 * 1024 * 1024)
LOUPE_MAX_PIXELS = env_int("LOUPE_MAX_PIXELS", 40_000_000)
LOUPE_MAX_CLIP_SECONDS = env_float("LOUPE_MAX_CLIP_SECONDS", 120.0)
LOUPE_MAX_CLIP_FRAMES = env_int("LOUPE_MAX_CLIP_FRAMES", 3600)
# ONNX model uploads: file size, and the validation child process's memory, CPU and wall-clock limits.
LOUPE_MAX_MODEL_BYTES = env_int("LOUPE_MAX_MODEL_BYTES", 200 * 1024 * 1024)
# A model upload is a multipart form: its other fields and boundaries around the file (config/limits.py).
LOUPE_MULTIPART_SLACK = 64 * 1024
LOUPE_MODEL_PROBE_MEMORY_MB = env_int("LOUPE_MODEL_PROBE_MEMORY_MB", 3072)
LOUPE_MODEL_PROBE_SECONDS = env_int("LOUPE_MODEL_PROBE_SECONDS", 60)
# Server pre-labels: one inference may take this long before the watchdog fails it; after this many failures
# in a row the model is taken out of service.
LOUPE_PRELABEL_TIMEOUT_SECONDS = env_float("LOUPE_PRELABEL_TIMEOUT_SECONDS", 20.0)
LOUPE_PRELABEL_MAX_FAILURES = env_int("LOUPE_PRELABEL_MAX_FAILURES", 3)
# Training runs: a trainer command that runs longer is stopped and its run failed.
LOUPE_TRAINING_TIMEOUT_SECONDS = env_int("LOUPE_TRAINING_TIMEOUT_SECONDS", 6 * 3600)
# Start a dispatched training at once (a Celery worker; a background thread in the embedded mode).
LOUPE_TRAINING_AUTOSTART = env_bool("LOUPE_TRAINING_AUTOSTART", default=True)
LOUPE_TRAINING_THREADS = env_int("LOUPE_TRAINING_THREADS", 2)
# Drift (activelearning/monitoring/drift.py) reads at most this many device predictions per camera and hour of a window
# (the latest of each hour), so a sweep costs the same however busy a camera is and a window stays spread
# over its whole span (days and nights alike) rather than its last busy hours.
LOUPE_DRIFT_PREDICTIONS_PER_HOUR = env_int("LOUPE_DRIFT_PREDICTIONS_PER_HOUR", 200)
# Device telemetry samples (one per heartbeat, activelearning/health) older than this many days are deleted by
# the daily retention job: a month of charts at one sample a minute is ~43k rows per device.
LOUPE_TELEMETRY_DAYS = env_int("LOUPE_TELEMETRY_DAYS", 30)
# Trainer commands a project admin may choose by name (the `command` backend): only the operator decides what
# runs on the server. JSON, e.g. {"yolo": ["yolo-train", "--data", "{dataset}/data.yaml", "--out", "{output}"]}.
LOUPE_TRAINER_COMMANDS = env_json_commands("LOUPE_TRAINER_COMMANDS")
# Hosts Loupe may send requests to (webhooks, external training pipelines); nothing else is ever contacted.
LOUPE_OUTBOUND_ALLOWED_HOSTS = env_list("LOUPE_OUTBOUND_ALLOWED_HOSTS", [])
# A listed host NAME must resolve to public addresses only, unless they fall in these networks (a listed IP
# literal is that address, allowed as written): an allowed name pointing inward is never called.
LOUPE_OUTBOUND_ALLOWED_NETWORKS = env_networks("LOUPE_OUTBOUND_ALLOWED_NETWORKS")
# Signed download links (a dataset export for an external training pipeline) expire after this long.
LOUPE_SIGNED_URL_SECONDS = env_int("LOUPE_SIGNED_URL_SECONDS", 24 * 3600)
# The address this server is reached at, for absolute links sent outside (e.g. https://loupe.example.com).
LOUPE_PUBLIC_URL = (env_str("LOUPE_PUBLIC_URL", "") or "").rstrip("/")
# The inference process's address-space cap (a model that explodes on a real frame fails, alone).
LOUPE_INFERENCE_MEMORY_MB = env_int("LOUPE_INFERENCE_MEMORY_MB", 4096)
# onnxruntime intra-op threads per inference process (bench/prelabel.py measures 1 vs 2 on this machine).
LOUPE_PRELABEL_THREADS = env_int("LOUPE_PRELABEL_THREADS", 1)
LOUPE_MAX_BATCH_EVENTS = env_int("LOUPE_MAX_BATCH_EVENTS", 500)
LOUPE_MAX_BATCH_BYTES = env_int("LOUPE_MAX_BATCH_BYTES", 16 * 1024 * 1024)
# Any other request body (the media path has LOUPE_MAX_UPLOAD_BYTES); enforced in config/limits.py.
LOUPE_MAX_REQUEST_BYTES = env_int("LOUPE_MAX_REQUEST_BYTES", LOUPE_MAX_BATCH_BYTES)
# Label imports (activelearning/datasets/imports.py): the body is parsed whole, so it is bounded on its own.
LOUPE_MAX_IMPORT_BYTES = env_int("LOUPE_MAX_IMPORT_BYTES", LOUPE_MAX_REQUEST_BYTES)
LOUPE_MAX_IMPORT_TASKS = env_int("LOUPE_MAX_IMPORT_TASKS", 10_000)
LOUPE_MAX_CLOCK_SKEW_SECONDS = env_int("LOUPE_MAX_CLOCK_SKEW_SECONDS", 300)
LOUPE_MAX_DETECTIONS = env_int("LOUPE_MAX_DETECTIONS", 1000)
LOUPE_LEASE_SECONDS = env_int("LOUPE_LEASE_SECONDS", 600)
# The browser claims the next item ahead; that lease is short (kept alive while the tab is open and in use).
LOUPE_PREFETCH_LEASE_SECONDS = env_int("LOUPE_PREFETCH_LEASE_SECONDS", 120)
# A skipped item is not offered to the same person again for this long.
LOUPE_SKIP_MEMORY_SECONDS = env_int("LOUPE_SKIP_MEMORY_SECONDS", 3600)
# Rejected work waits this long for its author before anyone else may take it.
LOUPE_REWORK_HOLD_SECONDS = env_int("LOUPE_REWORK_HOLD_SECONDS", 1800)
# Threads per server process that run HTTP requests (config/asgi.py); each holds at most one pooled connection.
LOUPE_HTTP_THREADS = env_int("LOUPE_HTTP_THREADS", 8)
# Live queue.stats snapshots are coalesced to one per project per this many seconds (0: at once).
LOUPE_STATS_PUSH_INTERVAL = env_float("LOUPE_STATS_PUSH_INTERVAL", 0.0 if "pytest" in sys.modules else 1.0)
# An open WebSocket re-reads its member's role and sites at most this often before relaying a message (the
# safety net under the immediate `membership.changed` notice; reviewer/consumers.py).
LOUPE_WS_ACCESS_RECHECK_SECONDS = env_float("LOUPE_WS_ACCESS_RECHECK_SECONDS", 2.0)
# Consensus items whose annotators agree less than this (box F1 at IoU 0.5) go to a QA reviewer.
LOUPE_AGREEMENT_THRESHOLD = env_float("LOUPE_AGREEMENT_THRESHOLD", 0.7)
DATA_UPLOAD_MAX_MEMORY_SIZE = LOUPE_MAX_BATCH_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Auth, API ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if "pytest" in sys.modules:
    # Password hashing dominates test time otherwise; production keeps the strong default.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S105

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "annotations.token_auth.UserTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's three defaults, the JSON one refusing over-deep nesting with a 400 (not a RecursionError).
    "DEFAULT_PARSER_CLASSES": ["annotations.api.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotations.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loupe API",
    "DESCRIPTION": "Device ingest and reviewer API of Loupe (see API.md).",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",  # the event schemas come from msgspec as JSON Schema 2020-12
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets shown in more than one component get one name (a delivery's status, a webhook's events), and
    # the drift metric is a named component rather than a generic `MetricEnum`, so the frontend's one word for it
    # is the backend's.
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStatusEnum": "activelearning.models.DeliveryStatus",
        "WebhookEventEnum": "activelearning.models.WebhookEvent",
        "DriftMetricEnum": "activelearning.models.DriftMetric",
        "AlertKindEnum": "activelearning.alerts.rules.KIND_CHOICES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "activelearning.ingest.schema.add_event_components",
        "annotations.api.schema_errors.add_error_responses",
    ],
    # Swagger UI from the bundled sidecar, so /api/docs/ needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# --- HTTPS in production (`manage.py check --deploy --fail-level WARNING` passes with the defaults) ------------
# Cookies only over HTTPS, plain HTTP redirected, and HSTS so browsers never try plain HTTP again.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("LOUPE_SECURE_COOKIES", default=LOUPE_PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("LOUPE_SSL_REDIRECT", default=LOUPE_PRODUCTION)
# A load balancer's health probe usually speaks plain HTTP to the app; it must not be redirected.
# So must readiness and Prometheus's scrape, which reach a process directly, not through the TLS front.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("LOUPE_HSTS_SECONDS", 365 * 24 * 3600 if LOUPE_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LOUPE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("LOUPE_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating proxy the app sees plain HTTP: name the header the proxy sets (e.g. X-Forwarded-Proto)
# so Django knows the request was HTTPS. Only when the proxy always overwrites it: a client could send it too.
_proxy_ssl_header = env_str("LOUPE_PROXY_SSL_HEADER")
if _proxy_ssl_header is not None:
    if not _proxy_ssl_header.replace("-", "").isalnum():
        raise ConfigError(f"LOUPE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto, not {_proxy_ssl_header!r}")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SILENCED_SYSTEM_CHECKS = [
    # Preloading binds the whole registrable domain and is asked for at hstspreload.org by its owner; the
    # `preload` flag alone would let anyone submit it, so it is the operator's explicit choice.
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
# The OpenAPI schema (/api/v1/schema/) and the Swagger page (/api/docs/) for anyone, or for signed-in users only
# (config/api_docs.py); `manage.py spectacular --file` (the frontend build) is unaffected.
LOUPE_PUBLIC_API_DOCS = env_bool("LOUPE_PUBLIC_API_DOCS", default=not LOUPE_PRODUCTION)

# --- Health and metrics (config/health.py, annotations/metrics.py; docs/deploy.md) ---------------------------
# /readyz gives each dependency this long to answer, so a hung database or bucket cannot hang the probe.
LOUPE_READYZ_TIMEOUT_SECONDS = env_float("LOUPE_READYZ_TIMEOUT_SECONDS", 2.0)
# At start (the ASGI lifespan), the database, Redis and media storage must answer, or the server exits with a
# message naming the setting; false skips that (the process then starts whatever /readyz would say).
LOUPE_STARTUP_CHECKS = env_bool("LOUPE_STARTUP_CHECKS", default=True)
# /metrics asks for `Authorization: Bearer <token>` when a token is set, and a client address in these networks
# when they are set (both when both are). With neither: 404 in production, and from loopback only otherwise.
LOUPE_METRICS_TOKEN = env_str("LOUPE_METRICS_TOKEN")
LOUPE_METRICS_NETWORKS = env_networks("LOUPE_METRICS_NETWORKS")
# A Celery worker runs in a pod of its own with no /metrics: with this port set, each worker process serves its
# counts (pre-labels, exports, training, webhook failures) there for Prometheus (config/celery.py). No token or
# network rule applies on that port (docs/health-and-metrics.md): keep it inside the cluster.
LOUPE_WORKER_METRICS_PORT = env_port("LOUPE_WORKER_METRICS_PORT")
LOUPE_WORKER_METRICS_ADDR = env_str("LOUPE_WORKER_METRICS_ADDR") or "0.0.0.0"  # noqa: S104 (scraped at the pod IP)
# With a path set, each worker's event loop touches that file every LOUPE_WORKER_LIVENESS_SECONDS: the liveness
# probe (`loupe-entrypoint worker-alive`) restarts a worker whose loop stopped (config/celery.py).
LOUPE_WORKER_LIVENESS_FILE = env_str("LOUPE_WORKER_LIVENESS_FILE")
LOUPE_WORKER_LIVENESS_SECONDS = env_int("LOUPE_WORKER_LIVENESS_SECONDS", 10)

EMAIL_BACKEND = env_str("LOUPE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# For django.core.mail.backends.filebased.EmailBackend (the e2e tests read invitations from it).
EMAIL_FILE_PATH = env_str("LOUPE_EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOUPE_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Label Studio link (activelearning/labelstudio, docs/labelstudio.md) -----
# Each call to a linked Label Studio gives up after this long; a failure backs the link off (doubling from
# LOUPE_LABELSTUDIO_BACKOFF_SECONDS up to an hour) while Loupe's own queue goes on.
LOUPE_LABELSTUDIO_TIMEOUT_SECONDS = env_float("LOUPE_LABELSTUDIO_TIMEOUT_SECONDS", 30.0)
LOUPE_LABELSTUDIO_BACKOFF_SECONDS = env_float("LOUPE_LABELSTUDIO_BACKOFF_SECONDS", 30.0)
# An item pushed to Label Studio is leased there this long; past it, Loupe's own annotators may take it.
LOUPE_LABELSTUDIO_LEASE_DAYS = env_int("LOUPE_LABELSTUDIO_LEASE_DAYS", 30)
# The signed image links in Label Studio tasks expire after this long; the sync renews them at half-life.
LOUPE_LABELSTUDIO_MEDIA_SECONDS = env_int("LOUPE_LABELSTUDIO_MEDIA_SECONDS", 7 * 24 * 3600)
# Polling, the fallback when webhooks are off or lost: each link's tasks updated since its cursor.
LOUPE_LABELSTUDIO_POLL_SECONDS = env_float("LOUPE_LABELSTUDIO_POLL_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE["sync-labelstudio"] = {"task": "labelstudio.sync", "schedule": LOUPE_LABELSTUDIO_POLL_SECONDS}
