from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from experiments.models import Experiment
from mlplatform.tests.factories import make_dataset_version, make_experiment, make_model_version
from notes.models import Annotation, AnnotationRevision, AnnotationTag
from notes.services import annotation_set


@pytest.fixture
def experiment(db: None) -> Experiment:
    return make_experiment(make_dataset_version())


def test_it_sets_tags_and_a_note_and_keeps_every_revision(
    experiment: Experiment, experimenter: User
) -> None:
    first = annotation_set(
        target=experiment,
        tags="Baseline, fraud  v2,baseline",
        note="First try\r\n",
        user=experimenter,
    )
    assert first.tags == ["baseline", "fraud", "v2"]
    assert first.note == "First try"
    assert first.updated_by_name == "erin"
    second = annotation_set(
        target=experiment, tags="fraud", note="Worse than #3", user=experimenter
    )
    assert second.pk == first.pk
    assert sorted(AnnotationTag.objects.values_list("name", flat=True)) == ["fraud"]
    history = list(AnnotationRevision.objects.order_by("id").values_list("tags", "note"))
    assert history == [(["baseline", "fraud", "v2"], "First try"), (["fraud"], "Worse than #3")]


def test_it_adds_no_revision_when_nothing_changed(
    experiment: Experiment, experimenter: User
) -> None:
    annotation_set(target=experiment, tags="a b", note="n", user=experimenter)
    annotation_set(target=experiment, tags="b, a", note="n\n", user=experimenter)
    assert AnnotationRevision.objects.count() == 1


def test_it_annotates_a_model_version_separately(
    experiment: Experiment, experimenter: User
) -> None:
    version = make_model_version(experiment)
    annotation_set(target=version, tags="candidate", note="", user=experimenter)
    annotation_set(target=experiment, tags="run", note="", user=experimenter)
    assert Annotation.objects.get(model_version=version).tags == ["candidate"]
    assert Annotation.objects.get(experiment=experiment).tags == ["run"]


@pytest.mark.parametrize(
    ("tags", "note", "message"),
    [
        ("good <script>", "", "tag '<script>' is not allowed"),
        ("-leading", "", "tag '-leading' is not allowed"),
        ("x" * 41, "", "is not allowed"),
        (" ".join(f"t{n}" for n in range(21)), "", r"at most 20 tags \(got 21\)"),
        ("ok", "x" * 10_001, "the note has 10,001 characters; at most 10,000"),
        ("ok", "nul\x00", "null character"),
    ],
)
def test_it_refuses_bad_tags_or_notes_and_writes_nothing(
    experiment: Experiment, experimenter: User, tags: str, note: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        annotation_set(target=experiment, tags=tags, note=note, user=experimenter)
    assert not Annotation.objects.exists()
    assert not AnnotationRevision.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_lets_only_experimenters_edit(
    request: pytest.FixtureRequest, experiment: Experiment, role: str
) -> None:
    with pytest.raises(PermissionDenied, match="may not edit tags and notes"):
        annotation_set(target=experiment, tags="x", note="", user=request.getfixturevalue(role))
    assert not Annotation.objects.exists()


def test_the_database_refuses_to_change_a_revision(
    experiment: Experiment, experimenter: User
) -> None:
    annotation_set(target=experiment, tags="x", note="original", user=experimenter)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AnnotationRevision.objects.update(note="rewritten")
    assert AnnotationRevision.objects.get().note == "original"
