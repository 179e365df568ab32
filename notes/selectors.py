from __future__ import annotations

from django.db.models import Prefetch

from experiments.models import Experiment
from notes.models import Annotation, AnnotationRevision, AnnotationTag
from registry.models import ModelVersion


def annotation_of(target: Experiment | ModelVersion) -> Annotation | None:
    """The current tags and note, with their revisions newest first; None if never set."""
    field = "experiment" if isinstance(target, Experiment) else "model_version"
    revisions = AnnotationRevision.objects.select_related("author").order_by("-created_at", "-id")
    return (
        Annotation.objects.prefetch_related(Prefetch("revisions", queryset=revisions))
        .filter(**{field: target})
        .first()
    )


def tag_names() -> list[str]:
    """Every tag in use, for the list's tag filter."""
    return list(AnnotationTag.objects.order_by("name").values_list("name", flat=True).distinct())
