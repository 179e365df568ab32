"""The profile page: who you are, and your personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from api.forms import ApiTokenForm
from api.selectors import api_tokens_of
from api.services import IssuedToken, api_token_create, api_token_revoke
from mlplatform.users import signed_in_user


def _render(
    request: HttpRequest,
    form: ApiTokenForm,
    issued: IssuedToken | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "tokens": api_tokens_of(user=signed_in_user(request)),
        "issued": issued,
    }
    return render(request, "api/profile.html", context, status=status)


@login_required
@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    return _render(request, ApiTokenForm())


@never_cache  # the page shows a new secret once; no cache may keep a copy
@login_required
@require_POST
def api_token_new(request: HttpRequest) -> HttpResponse:
    """Create a token and show its secret on this response only (not through a
    redirect and the session, where a copy would linger)."""
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            issued = api_token_create(user=signed_in_user(request), name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            return _render(request, ApiTokenForm(), issued=issued, status=201)
    return _render(request, form, status=400)


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        revoked = api_token_revoke(token_id=token_id, user=signed_in_user(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("profile:index")
    if revoked:
        messages.success(request, f"Token #{token_id} is revoked; it no longer works.")
    else:
        messages.info(request, f"Token #{token_id} was already revoked.")
    return redirect("profile:index")
