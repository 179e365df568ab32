from __future__ import annotations

from django import forms

from api.services import MAX_NAME_LENGTH


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=MAX_NAME_LENGTH,
        help_text="What the token is for, e.g. 'CI pipeline' or 'laptop'.",
    )
