from django.urls import path

from reviewer.api import project_views, views

urlpatterns = [
    path("projects/", project_views.ProjectListView.as_view(), name="projects"),
    path("projects/<int:project_id>/", project_views.ProjectDetailView.as_view(), name="project"),
    path("projects/<int:project_id>/audit", project_views.AuditLogView.as_view(), name="project-audit"),
    path("projects/<int:project_id>/items/", project_views.ProjectItemsView.as_view(), name="project-items"),
    path("projects/<int:project_id>/queue/claim", views.ClaimView.as_view(), name="queue-claim"),
    path("items/<int:item_id>/heartbeat", views.HeartbeatView.as_view(), name="item-heartbeat"),
    path("items/<int:item_id>/release", views.ReleaseView.as_view(), name="item-release"),
    path("items/<int:item_id>/skip", views.SkipView.as_view(), name="item-skip"),
    path("items/<int:item_id>/submit", views.SubmitView.as_view(), name="item-submit"),
    path("items/<int:item_id>/review", views.ReviewView.as_view(), name="item-review"),
    path("items/<int:item_id>/history", views.HistoryView.as_view(), name="item-history"),
]
