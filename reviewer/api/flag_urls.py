"""Count flag routes; included under /api/v1/ by config/urls.py."""

from django.urls import path

from reviewer.api import flag_views

urlpatterns = [
    path("projects/<int:project_id>/cameras/", flag_views.ProjectCamerasView.as_view(), name="project-cameras"),
    path("cameras/<int:camera_id>/counts", flag_views.CameraCountsView.as_view(), name="camera-counts"),
    path("cameras/<int:camera_id>/counts/window", flag_views.CameraCountWindowView.as_view(),
         name="camera-count-window"),
    path("cameras/<int:camera_id>/count-flags", flag_views.CameraCountFlagsView.as_view(),
         name="camera-count-flags"),
]
