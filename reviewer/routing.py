"""WebSocket routes. The project consumer (`/ws/projects/{id}/`) arrives with the review workflows."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
