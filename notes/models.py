"""Tags and a free-text note on an experiment or a model version.

Annotation holds the current state (what pages show and what the list
filters on); every edit also appends an AnnotationRevision, which the
database refuses to change, so the history of who said what is kept."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from experiments.models import Experiment
from registry.models import ModelVersion


class Annotation(models.Model):
    experiment = models.OneToOneField(
        Experiment, on_delete=models.PROTECT, null=True, blank=True, related_name="annotation"
    )
    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="annotation"
    )
    tags = models.JSONField(default=list, blank=True, help_text="The current tags, sorted.")
    note = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_by_name = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        permissions = [
            ("edit_annotation", "Can edit the tags and note of experiments and model versions")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(experiment__isnull=False, model_version__isnull=True)
                | models.Q(experiment__isnull=True, model_version__isnull=False),
                name="annotation_one_target",
            )
        ]

    def __str__(self) -> str:
        target = self.experiment or self.model_version
        return f"tags and note of {target}"


class AnnotationTag(models.Model):
    """One current tag, as a row so that lists filter on it with a join."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="tag_rows")
    name = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "name"], name="annotation_tag_unique")
        ]
        indexes = [models.Index(fields=["name"], name="annotation_tag_name")]

    def __str__(self) -> str:
        return self.name


class AnnotationRevision(models.Model):
    """Append-only: the tags and note as one edit left them."""

    annotation = models.ForeignKey(Annotation, on_delete=models.PROTECT, related_name="revisions")
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.annotation} by {self.author_name} at {self.created_at:%Y-%m-%d %H:%M}"
