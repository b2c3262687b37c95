"""WebSocket routes, mounted by config/asgi.py behind the Origin check and session auth."""

from django.urls import URLPattern, path

from reviewer.consumers import ProjectConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/projects/<int:project_id>/", ProjectConsumer.as_asgi()),
]
