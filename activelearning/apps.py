from importlib import import_module

from django.apps import AppConfig

# The parts that have background jobs; their tasks register under explicit names (activelearning/jobs.py).
PARTS_WITH_JOBS = ("registry", "datasets", "training", "monitoring", "webhooks", "rollouts", "retention",
                   "alerts", "labelstudio")


class ActiveLearningConfig(AppConfig):
    name = "activelearning"
    verbose_name = "Active learning: ingest, routing, models"

    def ready(self) -> None:
        from activelearning.monitoring.metrics import drift_scores
        from activelearning.training.threshold import count_acceptance, retrain_progress
        from activelearning.webhooks.services import subscribe_to_domain_events
        from annotations import events, metrics
        from reviewer.stats import add_stats_section

        # Counting toward the retraining threshold is atomic with the acceptance (same transaction).
        events.subscribe("item.accepted", count_acceptance)
        add_stats_section(retrain_progress)
        # Webhook deliveries are outbox rows of the transaction of the change they report.
        subscribe_to_domain_events()
        metrics.add_collector("drift", drift_scores)
        for part in PARTS_WITH_JOBS:
            import_module(f"activelearning.{part}.tasks")
        import_module("activelearning.legacy_task_names")
