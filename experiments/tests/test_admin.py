from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.test import Client

from mlplatform.tests.factories import make_dataset_version, make_experiment


def test_it_shows_metric_values_as_the_pages_do(client: Client, db: None) -> None:
    experiment = make_experiment(
        make_dataset_version(),
        metrics={"fp": 0.0, "tn": 56962.0, "roc_auc": 0.96216, "fit_time_seconds": 2.8},
    )
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    content = client.get(f"/admin/experiments/experiment/{experiment.pk}/change/").content.decode()
    shown = re.findall(r'class="field-shown_value">\s*<p>([^<]*)</p>', content)
    assert sorted(shown) == sorted(["0", "56,962", "0.9622", "2.8 s"])
