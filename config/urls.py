from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path

from config import health, spa
from config.api_docs import SchemaView, SwaggerView


def healthz(request: object) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    # The browser app: one HTML shell for / and every client-side route under /app/.
    path("", spa.app_shell, name="app"),
    re_path(r"^app(?:/(?P<route>.*))?$", spa.app_shell, name="app-route"),
    # Invitation and password-reset emails link here (`?uid=…&token=…`); the app reads the query.
    path("set-password", spa.app_shell, name="set-password"),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("readyz", health.readyz),
    path("metrics", health.metrics_view),
    # Public, or for signed-in users only (LOUPE_PUBLIC_API_DOCS: off by default in production).
    path("api/v1/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("activelearning.urls")),
    path("api/v1/", include("reviewer.api.urls")),
    path("api/v1/", include("reviewer.api.flag_urls")),
    path("api/v1/", include("annotations.api.urls")),
]

handler404 = "annotations.errors.json_404"
handler500 = "annotations.errors.json_500"
