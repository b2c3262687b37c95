from django.apps import AppConfig


class ActiveLearningConfig(AppConfig):
    name = "activelearning"
    verbose_name = "Active learning: ingest, routing, models"

    def ready(self) -> None:
        from activelearning.retraining import count_acceptance
        from activelearning.webhooks import on_item_accepted
        from reviewer import events

        # The item.accepted webhook delivery is an outbox row of the acceptance's transaction.
        events.subscribe("item_accepted", on_item_accepted)
        # Counting toward the retraining threshold is atomic with the acceptance (same transaction).
        events.subscribe("item_accepted", count_acceptance)
