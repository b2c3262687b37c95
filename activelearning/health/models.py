"""One sample per heartbeat that carries figures: the device's health over time."""

from __future__ import annotations

from django.db import models

from annotations.models import Device


class DeviceTelemetry(models.Model):
    """One heartbeat's figures, with the model the device said it runs. The rollout gates compare the devices
    running a rollout's model with those on the champion; the Devices page charts them; the alert rules read the
    latest. Counters (`dropped_frames`, `crashes`, `watchdog_restarts`) are totals since install, as reported."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField()
    model_sha256 = models.CharField(max_length=64, blank=True)
    inference_ms_p50 = models.FloatField(null=True, blank=True)
    inference_ms_p95 = models.FloatField(null=True, blank=True)
    crashes = models.BigIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True, help_text="Frames per second the cameras deliver.")
    inference_fps = models.FloatField(null=True, blank=True, help_text="Frames per second inference completes.")
    dropped_frames = models.BigIntegerField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    memory_used_bytes = models.BigIntegerField(null=True, blank=True)
    disk_free_bytes = models.BigIntegerField(null=True, blank=True)
    outbox_depth = models.BigIntegerField(null=True, blank=True)
    outbox_oldest_age_seconds = models.FloatField(null=True, blank=True)
    watchdog_restarts = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["received_at", "model_sha256"], name="telemetry_time_model"),
                   models.Index(fields=["device", "received_at"], name="telemetry_device_time")]

    def __str__(self) -> str:
        return f"telemetry of device {self.device_id} at {self.received_at}"
