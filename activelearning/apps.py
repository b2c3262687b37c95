from django.apps import AppConfig


class ActiveLearningConfig(AppConfig):
    name = "activelearning"
    verbose_name = "Active learning: ingest, routing, models"

    def ready(self) -> None:
        from activelearning.retraining import count_acceptance
        from reviewer import events

        # Counting toward the retraining threshold is atomic with the acceptance (same transaction).
        events.subscribe("item_accepted", count_acceptance)
