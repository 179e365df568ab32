from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from mlplatform.origin import Origin
from registry.models import ModelVersion, Stage, StageRequest
from registry.services import stage_request_create, stage_request_decide


@pytest.mark.django_db(transaction=True)
def test_it_leaves_exactly_one_production_version_when_two_approvals_race(
    registered: Callable[..., ModelVersion], experimenter: User, approver: User
) -> None:
    requests = [
        stage_request_create(
            origin=Origin.cli(),
            model_version=registered(name=name),
            to_stage=Stage.PRODUCTION,
            user=experimenter,
            reason="race",
        )
        for name in ("left", "right")
    ]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(request_id: int) -> None:
        try:
            start.wait()
            stage_request_decide(
                origin=Origin.cli(),
                request_id=request_id,
                user=approver,
                approve=True,
                reason="decided",
            )
            outcomes.append("approved")
        except ValidationError as error:
            outcomes.append("conflict: " + "; ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(r.pk,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "conflict"]
    assert ModelVersion.objects.filter(stage=Stage.PRODUCTION).count() == 1
    conflict = next(o for o in outcomes if o.startswith("conflict"))
    assert "request again" in conflict
    # The loser was gated against the old production: superseded by the winner.
    statuses = sorted(StageRequest.objects.values_list("status", flat=True))
    assert statuses == ["approved", "superseded"]
