from __future__ import annotations

from django.conf import settings
from django.db import models

from registry.models import ModelVersion


class ScoringRun(models.Model):
    """One batch scoring of a file with a model version; recorded once the
    output is written, never changed afterwards."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="scoring_runs"
    )
    artifact_sha256 = models.CharField(max_length=64, help_text="The artifact that scored.")
    threshold = models.FloatField(help_text="Decision threshold of the version's config.")
    requested_stage = models.CharField(
        max_length=20, blank=True, help_text="The stage asked for (e.g. production), if any."
    )
    input_path = models.CharField(max_length=1000, help_text="Relative to DATA_ROOT.")
    input_sha256 = models.CharField(max_length=64)
    output_path = models.CharField(max_length=1000)
    rows = models.BigIntegerField()
    positives = models.BigIntegerField(help_text="Rows decided as fraud.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user_name = models.CharField(max_length=150)
    channel = models.CharField(max_length=20, help_text="cli, api, ...")
    os_user = models.CharField(max_length=150, blank=True)
    host = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    duration_seconds = models.FloatField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["model_version", "-started_at"], name="scoring_run_version"),
        ]

    def __str__(self) -> str:
        return f"scoring run #{self.pk}: {self.model_version}, {self.rows} rows"
