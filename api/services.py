"""Personal API tokens: issued (the secret shown once), used, revoked."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from api.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# "mlp_" and 40 URL-safe characters (240 random bits); the first 12 characters
# are kept in clear so that a user can tell their tokens apart.
TOKEN_PREFIX = "mlp_"  # noqa: S105 - a marker, not a secret
TOKEN_PATTERN = re.compile(r"mlp_[A-Za-z0-9_-]{40}")
SHOWN_CHARACTERS = 12
# last_used_at is written at most this often per token: not one write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown to the user once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _require_issuer(issuer: User | None, owner_id: int, action: str) -> None:
    """A token is created or revoked by its own user or by a superuser."""
    if issuer is None:
        return
    if issuer.pk != owner_id and not (issuer.is_active and issuer.is_superuser):
        raise PermissionDenied(f"{issuer.get_username()} may {action} only their own tokens")


def api_token_create(*, user: User, name: str, issued_by: User | None = None) -> IssuedToken:
    """A new token for `user`; the returned secret is the only copy there will
    be. With `issued_by` (who asks): that user, or a superuser."""
    _require_issuer(issued_by, user.pk, "create")
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name that says what it is for.")
    if len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise ValidationError(f"A token name has at most {MAX_NAME_LENGTH} printable characters.")
    if not user.is_active:
        raise ValidationError(f"{user.get_username()} is inactive and cannot have tokens.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[:SHOWN_CHARACTERS], secret_sha256=_digest(secret)
    )
    return IssuedToken(token=token, secret=secret)


def api_token_revoke(
    *, token_id: int, user: User | None = None, revoked_by: User | None = None
) -> bool:
    """Revoke a token at once; with `user`, only one of theirs; with
    `revoked_by`, only by its own user or a superuser. True when this call
    revoked it, False when it was revoked already."""
    tokens = ApiToken.objects.filter(pk=token_id)
    if user is not None:
        tokens = tokens.filter(user=user)
    if not tokens.exists():
        raise ValidationError(f"There is no token #{token_id}" + (" of yours." if user else "."))
    _require_issuer(revoked_by, tokens.values_list("user_id", flat=True)[0], "revoke")
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now()) == 1


def api_token_authenticate(*, secret: str) -> User | None:
    """The active user a live token belongs to, or None (unknown, malformed or
    revoked token; inactive user). Notes when the token was used."""
    if not TOKEN_PATTERN.fullmatch(secret):
        return None  # not one of ours: no query
    token = (
        ApiToken.objects.select_related("user")
        .filter(secret_sha256=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    _note_use(token)
    return token.user


def _note_use(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
