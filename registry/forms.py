from __future__ import annotations

from typing import Any, cast

from django import forms

from registry.models import Stage
from registry.services import REQUESTABLE_STAGES

# What a version in a stage is usually moved to next: the form's default.
NEXT_STAGE: dict[str, str] = {
    Stage.NONE: Stage.STAGING,
    Stage.STAGING: Stage.PRODUCTION,
    Stage.PRODUCTION: Stage.ARCHIVED,
    Stage.ARCHIVED: Stage.STAGING,
}


class StageRequestForm(forms.Form):
    """Offers every requestable stage but the version's current one (a
    request to stay put is refused anyway), defaulting to the usual next."""

    to_stage = forms.ChoiceField(label="Move to")
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this version should move; recorded in the stage history.",
    )

    def __init__(self, *args: Any, current_stage: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(stage, Stage(stage).label) for stage in REQUESTABLE_STAGES]
        choices = [(value, label) for value, label in choices if value != current_stage]
        to_stage = cast(forms.ChoiceField, self.fields["to_stage"])
        to_stage.choices = choices
        to_stage.initial = NEXT_STAGE.get(current_stage, choices[0][0])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded with your name in the stage history.",
    )
    override_justification = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only to approve a request whose gate failed; needs the override permission.",
    )

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you take the request back; recorded in the stage history.",
    )
