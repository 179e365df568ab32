from __future__ import annotations

from django import forms

from registry.models import Stage
from registry.services import REQUESTABLE_STAGES


class StageRequestForm(forms.Form):
    to_stage = forms.ChoiceField(
        label="Move to",
        choices=[(stage, Stage(stage).label) for stage in REQUESTABLE_STAGES],
    )
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this version should move; recorded in the stage history.",
    )


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
        return self.cleaned_data["decision"] == "approve"


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you take the request back; recorded in the stage history.",
    )
