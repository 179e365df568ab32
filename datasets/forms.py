from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from datasets.models import name_validator
from mlplatform.numbers import size


def _plain_name(value: str) -> None:
    """Names become directories under DATA_ROOT/uploads: "." and ".." would
    climb out of it although they match the name pattern."""
    if set(value) == {"."}:
        raise forms.ValidationError("A name cannot be only dots.")


class DatasetRegisterForm(forms.Form):
    """Register a version from a file already under DATA_ROOT, or from an
    upload. The file field comes last in the page so that, when an upload is
    cut off for being too large, the fields before it still arrive."""

    name = forms.CharField(max_length=100, validators=[name_validator, _plain_name])
    version = forms.CharField(max_length=50, validators=[name_validator, _plain_name])
    target = forms.CharField(max_length=200, help_text="The label column (two classes).")
    positive_label = forms.CharField(
        required=False,
        max_length=200,
        label="Positive label",
        help_text="Only when the target is not 0/1: the class that means positive "
        "(e.g. fraud); training counts it as 1 and the other class as 0.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    path = forms.CharField(
        required=False,
        max_length=500,
        label="File under DATA_ROOT",
        help_text="Relative to DATA_ROOT, e.g. versions/v2/creditcard.csv.",
    )
    upload = forms.FileField(required=False, label="or upload a file")

    def __init__(self, *args: Any, upload_too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large
        self.max_bytes = settings.DATASET_UPLOAD_MAX_BYTES
        self.fields[
            "upload"
        ].help_text = f"At most {size(self.max_bytes)}; plain CSV (compressed files are refused)."

    def clean_upload(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("upload")
        if self.upload_too_large or (upload is not None and upload.size > self.max_bytes):
            raise forms.ValidationError(
                f"The file is larger than the upload limit of {size(self.max_bytes)}; "
                "copy it under DATA_ROOT and register it by path instead."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        has_path = bool((data.get("path") or "").strip())
        has_upload = data.get("upload") is not None
        if has_path == has_upload and "upload" not in self.errors:
            raise forms.ValidationError(
                "Give either a file under DATA_ROOT or an upload, not both."
            )
        return data
