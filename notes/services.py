"""Writes for tags and notes: one service, for experiments and model
versions alike. Each change appends a revision; an unchanged save adds none."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from experiments.models import Experiment
from notes.models import Annotation, AnnotationRevision, AnnotationTag
from registry.models import ModelVersion

if TYPE_CHECKING:
    from mlplatform.typing import Actor

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,39}$")
MAX_TAGS = 20
MAX_NOTE_CHARACTERS = 10_000
EDIT_PERMISSION = "notes.edit_annotation"


def parse_tags(text: str) -> list[str]:
    """ "Baseline, fraud  v2" -> ["baseline", "fraud", "v2"]: commas or spaces
    separate, case is folded, duplicates dropped, sorted."""
    tags = sorted({tag.lower() for tag in re.split(r"[,\s]+", text) if tag})
    bad = [tag for tag in tags if not TAG_PATTERN.match(tag)]
    if bad:
        raise ValidationError(
            f"tag {bad[0]!r} is not allowed: use up to 40 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"at most {MAX_TAGS} tags (got {len(tags)})")
    return tags


def _clean_note(note: str) -> str:
    text = note.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE_CHARACTERS:
        raise ValidationError(
            f"the note has {len(text):,} characters; at most {MAX_NOTE_CHARACTERS:,} are kept"
        )
    if "\x00" in text:
        raise ValidationError("the note contains a null character")
    return text


def _target_lookup(target: Experiment | ModelVersion) -> dict[str, Experiment | ModelVersion]:
    if isinstance(target, Experiment):
        return {"experiment": target}
    if isinstance(target, ModelVersion):
        return {"model_version": target}
    raise TypeError(f"tags and notes are kept for experiments and model versions, not {target!r}")


def annotation_set(
    *,
    target: Experiment | ModelVersion,
    tags: str,
    note: str,
    user: Actor,
) -> Annotation:
    """Replace the tags (text, see parse_tags) and note of an experiment or a
    model version, and record the change. Needs notes.edit_annotation."""
    if (
        user is None
        or not user.is_authenticated  # an anonymous user is never active either
        or not user.is_active
        or not user.has_perm(EDIT_PERMISSION)
    ):
        who = user.get_username() if user is not None else "nobody"
        raise PermissionDenied(f"{who} may not edit tags and notes")
    tag_list, text = parse_tags(tags), _clean_note(note)
    lookup = _target_lookup(target)
    with transaction.atomic():
        annotation = Annotation.objects.select_for_update().filter(**lookup).first()
        if annotation is not None and (annotation.tags, annotation.note) == (tag_list, text):
            return annotation
        annotation = annotation or Annotation(**lookup)
        annotation.tags, annotation.note = tag_list, text
        annotation.updated_by, annotation.updated_by_name = user, user.get_username()
        annotation.updated_at = timezone.now()
        annotation.save()
        annotation.tag_rows.all().delete()
        AnnotationTag.objects.bulk_create(
            AnnotationTag(annotation=annotation, name=tag) for tag in tag_list
        )
        AnnotationRevision.objects.create(
            annotation=annotation,
            tags=tag_list,
            note=text,
            author=user,
            author_name=user.get_username(),
        )
    return annotation
