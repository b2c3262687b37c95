from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request: object) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    # Until the browser app lands, the front door is the admin (the API docs are linked from the README).
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("activelearning.api.urls")),
    path("api/v1/", include("reviewer.api.urls")),
    path("api/v1/", include("reviewer.api.flag_urls")),
    path("api/v1/", include("annotations.api.urls")),
]

handler404 = "annotations.errors.json_404"
handler500 = "annotations.errors.json_500"
