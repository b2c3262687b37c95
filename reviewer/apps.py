from django.apps import AppConfig


class ReviewerConfig(AppConfig):
    name = "reviewer"
    verbose_name = "Reviewer: queue, leases, QA, audit"

    def ready(self) -> None:
        from annotations import events, metrics
        from reviewer import realtime
        from reviewer.metrics import queue_depth

        # A member's open sockets re-check their access as soon as their membership changes or ends.
        events.subscribe("membership.changed", realtime.publish_membership_changed)
        metrics.add_collector("review_queue", queue_depth)
