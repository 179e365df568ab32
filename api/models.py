from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of its secret is stored: the
    secret is shown once, when the token is created, and cannot be recovered.
    A revoked token stays listed, with when it was revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI'.")
    prefix = models.CharField(
        max_length=16, help_text="The secret's first characters, to recognise it by."
    )
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"token #{self.pk} {self.name!r} of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
