from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from experiments.models import Experiment, Status


def test_it_shows_the_form_with_the_shipped_configs(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    response = client.get("/experiments/new/")
    assert response.status_code == 200
    assert b'<option value="fraud_baseline.yaml"' in response.content


def test_it_prefills_the_editor_with_a_chosen_config(client: Client, experimenter: User) -> None:
    client.force_login(experimenter)
    response = client.get("/experiments/new/?config=fraud_baseline.yaml")
    assert b"experiment_name: fraud_baseline" in response.content


@pytest.mark.parametrize("name", ["../settings.py", "/etc/passwd", "nope.yaml"])
def test_it_ignores_an_unknown_config_name(client: Client, experimenter: User, name: str) -> None:
    client.force_login(experimenter)
    response = client.get("/experiments/new/", {"config": name})
    assert response.status_code == 200
    assert response.context["form"]["config_text"].value() in (None, "")


def test_it_submits_a_valid_config_and_redirects_to_the_experiment(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config(name="from_the_web")
    response = client.post("/experiments/new/", {"config_text": text})
    experiment = Experiment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/experiments/{experiment.pk}/"
    assert experiment.config_text == text
    assert experiment.name == "from_the_web"
    assert experiment.status == Status.CREATED
    assert experiment.source == "web"
    assert experiment.created_by == experimenter


def test_it_stores_browser_line_endings_as_in_a_file(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config()
    client.post("/experiments/new/", {"config_text": text.replace("\n", "\r\n")})
    assert Experiment.objects.get().config_text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experiment_name: [unclosed", "document: YAML error"),
        ("- a list", "document: must be a mapping"),
        ("", "This field is required."),
    ],
)
def test_it_shows_parser_errors_next_to_the_input(
    client: Client, experimenter: User, text: str, message: str
) -> None:
    client.force_login(experimenter)
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    errors = response.context["form"].errors["config_text"]
    assert any(message in error for error in errors), errors
    assert message.encode() in response.content
    assert not Experiment.objects.exists()


def test_it_names_the_key_path_of_a_bad_value(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config(params={"C": -1})
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    assert any(
        e.startswith("model.params.C") for e in response.context["form"].errors["config_text"]
    )
    assert not Experiment.objects.exists()


def test_it_refuses_a_dataset_that_is_not_registered(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config().replace("version: v1", "version: v9")
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    assert b"small_fraud:v9 is not registered" in response.content
    assert not Experiment.objects.exists()


# Transactional so that the enqueue runs on commit.
@pytest.mark.django_db(transaction=True)
def test_it_records_the_experiment_and_says_so_when_the_queue_is_down(
    client: Client, experimenter: User, make_config: Callable[..., str], settings: Settings
) -> None:
    settings.RQ_QUEUES = {
        "training": {**settings.RQ_QUEUES["training"], "URL": "redis://127.0.0.1:1/0"}
    }
    client.force_login(experimenter)
    response = client.post("/experiments/new/", {"config_text": make_config()}, follow=True)
    experiment = Experiment.objects.get()
    assert response.redirect_chain == [(f"/experiments/{experiment.pk}/", 302)]
    assert experiment.status == Status.CREATED
    assert "The queue is unavailable right now" in response.content.decode()


@pytest.mark.parametrize("role", ["viewer", "approver", "outsider"])
def test_it_refuses_users_who_may_not_launch(
    request: pytest.FixtureRequest, client: Client, make_config: Callable[..., str], role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.get("/experiments/new/").status_code == 403
    assert client.post("/experiments/new/", {"config_text": make_config()}).status_code == 403
    assert not Experiment.objects.exists()


def test_it_refuses_a_config_of_300_kb_as_a_form_error(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config() + "# " + "x" * 300_000 + "\n"
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    assert "at most 262144 characters" in response.context["form"].errors["config_text"][0]
    assert not Experiment.objects.exists()


def test_it_refuses_a_5_mb_paste_as_a_form_error_not_a_bad_request_page(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config() + "# " + "x" * 5_000_000 + "\n"
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    assert response.templates[0].name == "experiments/launch.html"
    errors = response.context["form"].errors["config_text"]
    assert errors == ["Ensure this value has at most 262144 characters (it has 5000256)."]
    assert not Experiment.objects.exists()


def test_it_refuses_a_paste_past_the_request_limit_as_a_form_error(
    client: Client, experimenter: Any, make_config: Callable[..., str], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # REQUEST_MAX_BODY_BYTES
    client.force_login(experimenter)
    text = make_config() + "# " + "x" * 5_000_000 + "\n"
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    assert response.templates[0].name == "experiments/launch.html"
    errors = response.context["form"].errors["config_text"]
    assert errors == [
        "The form sent 4.8 MiB, too large to read; a config may be at most 256.0 KiB. "
        "Shorten it and paste it again."
    ]
    assert b"too large to read" in response.content
    assert not Experiment.objects.exists()


def test_it_still_checks_the_csrf_token_of_a_readable_form(
    experimenter: User, make_config: Callable[..., str]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(experimenter)
    response = client.post("/experiments/new/", {"config_text": make_config()})
    assert response.status_code == 403
    assert not Experiment.objects.exists()


def test_it_refuses_a_config_beyond_the_platform_limits(
    client: Client, experimenter: User, make_config: Callable[..., str]
) -> None:
    client.force_login(experimenter)
    text = make_config(
        model_type="random_forest", params={"n_estimators": 10_000_000, "n_jobs": 300}
    )
    response = client.post("/experiments/new/", {"config_text": text})
    assert response.status_code == 400
    errors = response.context["form"].errors["config_text"]
    assert any("TRAINING_LIMIT_RANDOM_FOREST_N_ESTIMATORS" in error for error in errors)
    assert any(error.startswith("model.params.n_jobs: is set by the platform") for error in errors)
    assert not Experiment.objects.exists()
