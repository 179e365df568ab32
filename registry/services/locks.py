"""The lock that serialises every decision about one registered model."""

from __future__ import annotations

from registry.models import RegisteredModel


def locked_model(name: str) -> RegisteredModel:
    """The model row, locked, so that version numbers, policies and production
    changes of one model are decided one transaction at a time. Call it inside
    a transaction; the model must exist (registered_model_ensure)."""
    return RegisteredModel.objects.select_for_update().get(name=name)
