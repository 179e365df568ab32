from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from registry.models import StageTransition


def test_it_refuses_to_update_a_history_row(registered):
    registered()
    entry = StageTransition.objects.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StageTransition.objects.filter(pk=entry.pk).update(reason="rewritten")

    entry.refresh_from_db()
    assert entry.reason != "rewritten"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="DELETE trigger exists on PostgreSQL only"
)
def test_it_refuses_to_delete_a_history_row_on_postgresql(registered):
    registered()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StageTransition.objects.all().delete()

    assert StageTransition.objects.count() == 1
