from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from experiments.models import Experiment
from mlplatform.tests.factories import make_dataset_version, make_experiment, make_model_version
from notes.models import Annotation, AnnotationRevision
from notes.services import annotation_set


@pytest.fixture
def experiment(db: None) -> Experiment:
    return make_experiment(make_dataset_version(), name="tagged_run")


def test_it_saves_tags_and_a_note_and_shows_them_on_the_experiment(
    client: Client, experimenter: User, experiment: Experiment
) -> None:
    client.force_login(experimenter)
    url = f"/experiments/{experiment.pk}/notes/"
    response = client.post(url, {"tags": "baseline, keep", "note": "Use as the reference."})
    assert response.status_code == 302
    assert response["Location"] == f"/experiments/{experiment.pk}/"
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert '<a class="tag" href="/experiments/?tag=baseline">baseline</a>' in page
    assert "Use as the reference." in page
    assert 'id="annotation-form"' in page
    assert "Last edited by erin" in page


def test_it_shows_the_history_of_edits(
    client: Client, experimenter: User, experiment: Experiment
) -> None:
    annotation_set(target=experiment, tags="first", note="one", user=experimenter)
    annotation_set(target=experiment, tags="second", note="two", user=experimenter)
    client.force_login(experimenter)
    page = client.get(f"/experiments/{experiment.pk}/notes/").content.decode()
    assert page.index("two") < page.index("one")  # newest first
    assert page.count("<strong>erin</strong>") == 2
    assert "History (2 edits)" in client.get(f"/experiments/{experiment.pk}/").content.decode()


def test_it_refuses_a_bad_tag_with_the_form_and_a_400(
    client: Client, experimenter: User, experiment: Experiment
) -> None:
    client.force_login(experimenter)
    response = client.post(
        f"/experiments/{experiment.pk}/notes/", {"tags": "ok b@d", "note": "kept in the form"}
    )
    assert response.status_code == 400
    assert b"tag &#x27;b@d&#x27; is not allowed" in response.content
    assert b"kept in the form" in response.content
    assert not Annotation.objects.exists()


def test_it_shows_a_viewer_the_tags_but_no_form(
    client: Client, viewer: User, experimenter: User, experiment: Experiment
) -> None:
    annotation_set(target=experiment, tags="baseline", note="", user=experimenter)
    client.force_login(viewer)
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert ">baseline</a>" in page
    assert 'id="annotation-form"' not in page
    assert client.get(f"/experiments/{experiment.pk}/notes/").status_code == 200
    response = client.post(f"/experiments/{experiment.pk}/notes/", {"tags": "x", "note": ""})
    assert response.status_code == 403
    assert AnnotationRevision.objects.count() == 1


def test_it_annotates_a_model_version(
    client: Client, experimenter: User, experiment: Experiment
) -> None:
    make_model_version(experiment, version=2)
    client.force_login(experimenter)
    url = "/registry/models/fraud_detector/versions/2/notes/"
    response = client.post(url, {"tags": "candidate", "note": "Waiting for the Q3 data."})
    assert response["Location"] == "/registry/models/fraud_detector/versions/2/"
    page = client.get("/registry/models/fraud_detector/versions/2/").content.decode()
    assert '<a class="tag" href="/registry/models/fraud_detector/?tag=candidate">' in page
    assert "Waiting for the Q3 data." in page


def test_it_answers_404_for_unknown_objects(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    assert client.get("/experiments/424242/notes/").status_code == 404
    assert client.get("/registry/models/nope/versions/1/notes/").status_code == 404


def test_it_refuses_an_outsider(client: Client, outsider: User, experiment: Experiment) -> None:
    client.force_login(outsider)
    assert client.get(f"/experiments/{experiment.pk}/notes/").status_code == 403
    assert client.post(f"/experiments/{experiment.pk}/notes/", {"tags": "x"}).status_code == 403
    assert not Annotation.objects.exists()
