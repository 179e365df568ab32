from __future__ import annotations

from django import forms

from notes.services import MAX_NOTE_CHARACTERS


class AnnotationForm(forms.Form):
    """Collects the text; notes.services.annotation_set checks it."""

    tags = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separated by commas or spaces, e.g. baseline, candidate, lr-sweep.",
    )
    note = forms.CharField(
        required=False,
        strip=False,
        # A little room above the service's limit, so that its message (with the count) shows.
        max_length=MAX_NOTE_CHARACTERS + 1000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
