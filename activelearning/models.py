"""Django finds an app's models in `<app>.models`: this module only gathers the parts' models. Code imports each
model from its part (`activelearning.registry.models`, …)."""

from activelearning.alerts.models import Alert, AlertRule
from activelearning.datasets.models import (
    ArchiveKind,
    CameraSplit,
    DatasetEntry,
    DatasetVersion,
    ExportFormat,
    ExportJob,
    ExportStatus,
    Split,
)
from activelearning.health.models import DeviceTelemetry
from activelearning.labelstudio.models import LabelStudioLink, LabelStudioTask, LabelStudioVersion, TaskState
from activelearning.monitoring.models import DriftMetric, DriftPolicy, DriftState
from activelearning.registry.models import (
    EvaluationStatus,
    ModelEvaluation,
    ModelStatus,
    ModelVersion,
    PrelabelRun,
    PrelabelStatus,
)
from activelearning.retention.models import LegalHold, RetentionPolicy, RetentionRun
from activelearning.rollouts.models import ModelPin, Rollout, RolloutStatus
from activelearning.routing.models import RoutingPolicy
from activelearning.training.models import (
    RetrainRequest,
    RetrainState,
    RetrainTrigger,
    SiteRetrainCount,
    TrainerBackend,
    TrainerConfig,
    TrainingRun,
    TrainingStatus,
)
from activelearning.webhooks.models import PING, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "LabelStudioLink", "LabelStudioTask", "LabelStudioVersion", "TaskState",
    "PING", "Alert", "AlertRule", "ArchiveKind", "CameraSplit", "DatasetEntry", "DatasetVersion", "DeliveryStatus", "DeviceTelemetry",
    "DriftMetric", "DriftPolicy", "DriftState", "EvaluationStatus", "ExportFormat", "ExportJob", "ExportStatus",
    "LegalHold", "ModelEvaluation", "ModelPin", "ModelStatus", "ModelVersion", "PrelabelRun", "PrelabelStatus",
    "RetentionPolicy", "RetentionRun", "RetrainRequest", "RetrainState", "RetrainTrigger", "Rollout",
    "RolloutStatus", "RoutingPolicy", "SiteRetrainCount", "Split", "TrainerBackend", "TrainerConfig", "TrainingRun",
    "TrainingStatus", "Webhook", "WebhookDelivery", "WebhookEvent",
]
