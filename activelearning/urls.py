from django.urls import path, re_path

from activelearning.alerts import api as alert_views
from activelearning.datasets import api as export_views
from activelearning.datasets import imports_api as import_views
from activelearning.health import api as health_views
from activelearning.ingest import api as views
from activelearning.labelstudio import api as labelstudio_views
from activelearning.monitoring import api as drift_views
from activelearning.numbers import api as numbers_views
from activelearning.registry import api as model_views
from activelearning.registry import prelabels_api as prelabel_views
from activelearning.retention import api as retention_views
from activelearning.rollouts import api as rollout_views
from activelearning.routing import api as policy_views
from activelearning.training import api as retrain_views
from activelearning.webhooks import api as webhook_views

urlpatterns = [
    # Any path segment reaches the view, so a malformed hash gets a 400 with a reason, not a bare 404.
    re_path(r"^media/(?P<sha256>.+)$", views.MediaView.as_view(), name="media"),
    path("events", views.EventsView.as_view(), name="events"),
    path("heartbeat", views.HeartbeatView.as_view(), name="heartbeat"),
    path("projects/<int:project_id>/models/", model_views.ProjectModelsView.as_view(), name="project-models"),
    path("items/<int:item_id>/prelabels", prelabel_views.ItemPrelabelsView.as_view(), name="item-prelabels"),
    path("projects/<int:project_id>/retrain", retrain_views.RetrainView.as_view(), name="project-retrain"),
    path("projects/<int:project_id>/datasets/", retrain_views.DatasetListView.as_view(), name="project-datasets"),
    path("projects/<int:project_id>/training-runs/", retrain_views.TrainingRunListView.as_view(),
         name="project-training-runs"),
    path("projects/<int:project_id>/trainer", retrain_views.TrainerConfigView.as_view(), name="project-trainer"),
    path("training-runs/<int:run_id>/callback", retrain_views.TrainingCallbackView.as_view(),
         name="training-callback"),
    path("datasets/<int:dataset_id>/exports", export_views.DatasetExportsView.as_view(), name="dataset-exports"),
    path("exports/<int:export_id>", export_views.ExportView.as_view(), name="export"),
    path("exports/<int:export_id>/file", export_views.ExportFileView.as_view(), name="export-file"),
    path("exports/<int:export_id>/signed-file", export_views.SignedExportFileView.as_view(),
         name="export-signed-file"),
    path("projects/<int:project_id>/imports", import_views.ProjectImportsView.as_view(), name="project-imports"),
    path("projects/<int:project_id>/labelstudio", labelstudio_views.ProjectLinkView.as_view(),
         name="project-labelstudio"),
    path("projects/<int:project_id>/labelstudio/push", labelstudio_views.PushView.as_view(), name="labelstudio-push"),
    path("projects/<int:project_id>/labelstudio/sync", labelstudio_views.SyncView.as_view(), name="labelstudio-sync"),
    path("labelstudio/links/<int:link_id>/webhook", labelstudio_views.WebhookReceiverView.as_view(),
         name="labelstudio-webhook"),
    path("labelstudio/links/<int:link_id>/media/<str:sha256>", labelstudio_views.MediaView.as_view(),
         name="labelstudio-media"),
    path("models/current", rollout_views.CurrentModelView.as_view(), name="model-current"),
    path("models/<int:model_id>/file", model_views.ModelFileView.as_view(), name="model-file"),
    path("models/<int:model_id>/promote", rollout_views.PromoteView.as_view(), name="model-promote"),
    path("projects/<int:project_id>/rollouts/", rollout_views.ProjectRolloutsView.as_view(), name="project-rollouts"),
    path("rollouts/<int:rollout_id>", rollout_views.RolloutView.as_view(), name="rollout"),
    path("rollouts/<int:rollout_id>/<str:action>", rollout_views.RolloutActionView.as_view(), name="rollout-action"),
    path("projects/<int:project_id>/pins/", rollout_views.ProjectPinsView.as_view(), name="project-pins"),
    path("projects/<int:project_id>/pins/<int:pin_id>", rollout_views.PinView.as_view(), name="project-pin"),
    path("models/<int:model_id>/evaluation", model_views.EvaluationView.as_view(), name="model-evaluation"),
    path("models/<int:model_id>/rollback", rollout_views.RollbackView.as_view(), name="model-rollback"),
    path("projects/<int:project_id>/routing-policy", policy_views.RoutingPolicyView.as_view(),
         name="routing-policy"),
    path("projects/<int:project_id>/routing-policy/preview", policy_views.RoutingPolicyPreviewView.as_view(),
         name="routing-policy-preview"),
    path("projects/<int:project_id>/webhooks/", webhook_views.ProjectWebhooksView.as_view(), name="project-webhooks"),
    path("webhooks/<int:webhook_id>", webhook_views.WebhookView.as_view(), name="webhook"),
    path("webhooks/<int:webhook_id>/deliveries", webhook_views.WebhookDeliveriesView.as_view(),
         name="webhook-deliveries"),
    path("webhooks/<int:webhook_id>/test", webhook_views.WebhookTestView.as_view(), name="webhook-test"),
    path("projects/<int:project_id>/drift/", drift_views.ProjectDriftView.as_view(), name="project-drift"),
    path("projects/<int:project_id>/drift/compute", drift_views.DriftComputeView.as_view(),
         name="project-drift-compute"),
    path("projects/<int:project_id>/retention", retention_views.RetentionView.as_view(), name="project-retention"),
    path("projects/<int:project_id>/retention/dry-run", retention_views.RetentionDryRunView.as_view(),
         name="project-retention-dry-run"),
    path("projects/<int:project_id>/sites/<int:site_id>/legal-hold", retention_views.LegalHoldView.as_view(),
         name="site-legal-hold"),
    path("projects/<int:project_id>/alerts", alert_views.ProjectAlertsView.as_view(), name="project-alerts"),
    path("projects/<int:project_id>/alerts/summary", alert_views.AlertSummaryView.as_view(),
         name="project-alert-summary"),
    path("projects/<int:project_id>/alerts/<int:alert_id>/acknowledge", alert_views.AlertAcknowledgeView.as_view(),
         name="alert-acknowledge"),
    path("projects/<int:project_id>/alerts/<int:alert_id>/silence", alert_views.AlertSilenceView.as_view(),
         name="alert-silence"),
    path("projects/<int:project_id>/alert-rules", alert_views.AlertRulesView.as_view(), name="project-alert-rules"),
    path("projects/<int:project_id>/counts", numbers_views.ProjectCountsView.as_view(), name="project-counts"),
    path("projects/<int:project_id>/counts/summary", numbers_views.ProjectCountsSummaryView.as_view(),
         name="project-counts-summary"),
    path("projects/<int:project_id>/devices/telemetry-summary", health_views.TelemetrySummaryView.as_view(),
         name="devices-telemetry-summary"),
    path("projects/<int:project_id>/devices/<int:device_id>/telemetry", health_views.DeviceTelemetryView.as_view(),
         name="device-telemetry"),
    path("projects/<int:project_id>/drift/policy", drift_views.DriftPolicyView.as_view(), name="project-drift-policy"),
]
