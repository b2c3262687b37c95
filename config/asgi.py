"""ASGI entry point: HTTP through Django (sync, on a fixed thread pool), WebSockets through Channels.

HTTP runs Django's WSGI handler on a2wsgi's fixed thread pool, not Django's ASGI handler. Our views are
all synchronous; Django's ASGI handler starts a new thread for every request and hops between the event
loop and threads at each sync boundary, which on the claim loop cost about a third of the server's CPU.
Request bodies still stream (a2wsgi reads them from the event loop as the view asks), so the body limit
below applies before anything is buffered. WebSockets stay async on Channels (session auth, Origin checked).
"""

import os

from django.core.wsgi import get_wsgi_application

from config.startup import StartupChecks, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
with exit_on_configuration_error():
    django_wsgi_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.limits import BodySizeLimitMiddleware  # noqa: E402
from reviewer import realtime  # noqa: E402
from reviewer.routing import websocket_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": realtime.BindLoopMiddleware(  # (a2wsgi's and Django's typings of ASGI/WSGI differ)
            BodySizeLimitMiddleware(
                WSGIMiddleware(django_wsgi_app, workers=settings.LOUPE_HTTP_THREADS)  # type: ignore[arg-type]
            )
        ),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
# The lifespan: a database, Redis or bucket that does not answer stops the start with a message (config/startup.py).
application = StartupChecks(router, enabled=settings.LOUPE_STARTUP_CHECKS,
                            timeout=max(settings.LOUPE_READYZ_TIMEOUT_SECONDS, 5.0))
