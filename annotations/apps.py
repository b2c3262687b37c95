from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations: projects, devices, assets, predictions, annotations"

    def ready(self) -> None:
        from annotations import metrics

        metrics.add_collector("device_heartbeats", metrics.device_heartbeats)
        metrics.add_collector("celery_queues", metrics.celery_queue_lengths)
        metrics.add_collector("media_disk", metrics.media_disk)
