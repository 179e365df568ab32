from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from api.v1.auth import caller, requires
from api.v1.schemas import responses

router = Router(tags=["account"])


class MeOut(Schema):
    username: str
    roles: list[str]
    permissions: list[str]


@router.get("/me/", response=responses(MeOut), auth=requires())
def me(request: HttpRequest) -> dict[str, object]:
    """Who the token (or session) acts as, with their roles and permissions."""
    user = caller(request)
    return {
        "username": user.get_username(),
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(user.get_all_permissions()),
    }
