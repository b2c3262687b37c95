#!/bin/sh
# The image's one entry point: the first argument names the role (deploy/Dockerfile, docs/deploy.md).
#   web         uvicorn on $PORT (one process per container: scale with replicas)
#   worker      a Celery worker; LOUPE_WORKER_QUEUES (e.g. "prelabels") limits it to some queues, unset = all
#   beat        the periodic sweeps: exactly one per deployment
#   migrate     apply migrations and exit (run once before web, worker and beat start)
#   seed        the demo project and its logins (manage.py seed_demo)
#   create-bucket  make MEDIA_STORAGE's bucket if missing (compose's object store; a real one is provisioned)
#   healthcheck GET /healthz on this container (Docker's HEALTHCHECK)
#   worker-alive a worker's liveness: its event loop touched LOUPE_WORKER_LIVENESS_FILE within
#               LOUPE_WORKER_LIVENESS_MAX_AGE seconds (default 120; config/celery.py touches it every 10 s)
# Anything else is run as given, e.g. `django-admin createsuperuser`.
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # X-Forwarded-For/-Proto are believed only from LOUPE_TRUSTED_PROXIES, as the settings do (README).
    exec uvicorn config.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" \
      --proxy-headers --forwarded-allow-ips "${LOUPE_TRUSTED_PROXIES:-}" \
      --no-server-header --timeout-graceful-shutdown "${LOUPE_GRACEFUL_SECONDS:-25}" "$@"
    ;;
  worker)
    if [ -n "${LOUPE_WORKER_QUEUES:-}" ]; then
      set -- -Q "$LOUPE_WORKER_QUEUES" "$@"
    fi
    # Threads, not prefork: a pre-label runs in an inference child process, which a prefork child may not start.
    exec celery -A config worker --loglevel "${LOUPE_LOG_LEVEL:-INFO}" --pool threads \
      --concurrency "${LOUPE_WORKER_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    # The schedule's state lives in /tmp: beat re-reads CELERY_BEAT_SCHEDULE from the settings at start.
    exec celery -A config beat --loglevel "${LOUPE_LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule "$@"
    ;;
  migrate)
    exec django-admin migrate --noinput "$@"
    ;;
  seed)
    exec django-admin seed_demo "$@"
    ;;
  create-bucket)
    exec python - <<'PY'
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

bucket = os.environ["MEDIA_STORAGE"].removeprefix("s3://").strip("/")
s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                  region_name=os.environ.get("AWS_S3_REGION_NAME") or None,
                  config=Config(s3={"addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE") or "auto"}))
try:
    s3.create_bucket(Bucket=bucket)
    print(f"created bucket {bucket}")
except ClientError as exc:
    if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
        raise
    print(f"bucket {bucket} exists")
PY
    ;;
  healthcheck)
    exec python - <<'PY'
import os
import urllib.request

# The first allowed host, so Django's host check accepts the probe (".example.com" allows example.com).
host = (os.environ.get("LOUPE_ALLOWED_HOSTS") or "localhost").split(",")[0].strip().lstrip(".") or "localhost"
request = urllib.request.Request(f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", headers={"Host": host})
with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (fixed loopback URL)
    raise SystemExit(0 if response.status == 200 else 1)
PY
    ;;
  worker-alive)
    file="${LOUPE_WORKER_LIVENESS_FILE:?LOUPE_WORKER_LIVENESS_FILE is not set}"
    test -f "$file"
    test "$(( $(date +%s) - $(stat -c %Y "$file") ))" -le "${LOUPE_WORKER_LIVENESS_MAX_AGE:-120}"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
