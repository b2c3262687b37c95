"""Celery app. Without REDIS_URL tasks run eagerly in-process (embedded mode)."""

import logging
import os
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)

app = Celery("loupe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def load_settings_or_exit(**kwargs: Any) -> None:
    """A malformed setting stops `celery -A config worker` (or beat) with the paragraph manage.py and uvicorn
    print, and exit code 2, instead of a traceback.

    on_configure fires at the first read of the app's configuration, just before Celery reads Django's settings:
    loading them here, inside exit_on_configuration_error, is the one place the CLI's start-up passes through
    (it reads the configuration while parsing its own options, before any worker signal). In the web process
    and the tests the settings are loaded by then, so this costs nothing there.
    """
    from django.conf import settings

    from config.startup import exit_on_configuration_error

    with exit_on_configuration_error():
        _ = settings.INSTALLED_APPS  # the first read of a setting loads (and checks) them all


@worker_init.connect
def serve_worker_metrics(**kwargs: Any) -> None:
    """With LOUPE_WORKER_METRICS_PORT set, the worker serves its counts to Prometheus on that port.

    worker_init runs once, in the worker's main process, before the pool starts: with the prefork pool the
    children do the tasks, so their counts reach this server only through PROMETHEUS_MULTIPROC_DIR (set in
    the worker pods); the solo and threads pools count in this process and need no folder.
    """
    from django.conf import settings

    from annotations import metrics

    port, addr = settings.LOUPE_WORKER_METRICS_PORT, str(settings.LOUPE_WORKER_METRICS_ADDR)
    if port is None:
        return
    try:
        metrics.serve_counts(port=port, addr=addr)
    except OSError:
        # The port taken or the address not ours: the work matters more than its scrape, so the worker goes on;
        # the error says why the target is down.
        logger.exception("worker metrics: cannot serve on %s:%s", addr, port)
        return
    logger.info("worker metrics on http://%s:%s/metrics", addr, port)


class LivenessFile(bootsteps.StartStopStep):
    """With LOUPE_WORKER_LIVENESS_FILE set, the worker touches that file every LOUPE_WORKER_LIVENESS_SECONDS, and
    Kubernetes' liveness probe (`loupe-entrypoint worker-alive`) restarts a worker that stopped touching it.

    The touch is a timer of the worker's event loop (the hub's, with Redis as the broker), not a thread of its own:
    a thread would go on touching while the loop that takes tasks is stuck. With the threads pool (every role in
    deploy/) a long task runs beside the loop and does not make the worker look dead.
    """

    requires = {"celery.worker.components:Hub"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        from django.conf import settings

        self.path = Path(settings.LOUPE_WORKER_LIVENESS_FILE) if settings.LOUPE_WORKER_LIVENESS_FILE else None
        self.every = max(1, settings.LOUPE_WORKER_LIVENESS_SECONDS)
        self.timer: Any = None
        super().__init__(parent, **kwargs)

    def touch(self) -> None:
        if self.path is not None:
            self.path.touch()

    def start(self, parent: Any) -> None:
        if self.path is None:
            return
        self.touch()
        self.timer = parent.timer.call_repeatedly(self.every, self.touch)

    def stop(self, parent: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


app.steps["worker"].add(LivenessFile)
