from django.apps import AppConfig


class ReviewerConfig(AppConfig):
    name = "reviewer"
    verbose_name = "Reviewer: queue, leases, QA, audit"

    def ready(self) -> None:
        from annotations import events
        from reviewer import realtime

        # A member's open sockets re-check their access as soon as their membership changes or ends.
        events.subscribe("membership.changed", realtime.publish_membership_changed)
