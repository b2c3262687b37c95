from django.apps import AppConfig


class ActiveLearningConfig(AppConfig):
    name = "activelearning"
    verbose_name = "Active learning: ingest, routing, models"
