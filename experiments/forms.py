from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from django import forms
from django.conf import settings

from datasets.models import DatasetVersion
from experiments.configs import MAX_DOCUMENT_BYTES, MODEL_TYPES, ConfigError, parse_config
from experiments.limits import config_limits
from experiments.models import Status
from experiments.selectors import FIELD_SORTS
from mlplatform.numbers import size

MIN_COMPARE, MAX_COMPARE = 2, 10
MAX_ID_DIGITS = 18


def config_files() -> list[str]:
    """The shipped experiment configs: file names in configs/, never a path
    (the default gate policy lives there too, and is not one)."""
    directory = Path(settings.BASE_DIR) / "configs"
    policy = Path(settings.GATE_DEFAULT_POLICY_FILE).resolve()
    return sorted(
        path.name
        for path in directory.glob("*.yaml")
        if path.is_file() and path.resolve() != policy
    )


def config_file_text(name: str) -> str:
    if name not in config_files():  # only names listed above, so no path tricks
        raise ValueError(f"no config named {name!r}")
    return (Path(settings.BASE_DIR) / "configs" / name).read_text(encoding="utf-8")


class DatasetVersionChoiceField(forms.ModelChoiceField[DatasetVersion]):
    def label_from_instance(self, obj: DatasetVersion) -> str:
        return obj.label


class ExperimentFilterForm(forms.Form):
    """The list's query string. Choices are checked, so ?status=bogus or
    ?sort=nonsense is an error message, not a crash."""

    name = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *Status.choices])
    dataset_version = DatasetVersionChoiceField(
        required=False,
        queryset=DatasetVersion.objects.select_related("dataset").order_by(
            "dataset__name", "version"
        ),
        empty_label="any dataset",
    )
    model_type = forms.ChoiceField(
        required=False, choices=[("", "any model"), *((name, name) for name in MODEL_TYPES)]
    )
    tag = forms.RegexField(
        required=False,
        max_length=40,
        regex=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        error_messages={"invalid": "A tag holds only letters, digits, '_', '.', ':' and '-'."},
        widget=forms.TextInput(attrs={"list": "tag-names", "size": 12}),
    )
    sort = forms.ChoiceField(required=False)
    order = forms.ChoiceField(
        required=False, choices=[("desc", "descending"), ("asc", "ascending")]
    )

    def __init__(self, *args: Any, metric_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        columns = [(key, key.replace("_", " ")) for key in FIELD_SORTS]
        metrics = [(name, name) for name in metric_names]
        # self.fields holds copies of the fields declared above, typed as Field.
        cast(forms.ChoiceField, self.fields["sort"]).choices = [
            ("Columns", columns),
            ("Metrics", metrics),
        ]

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        version = data.get("dataset_version")
        return {
            "status": data.get("status") or "",
            "dataset_version_id": version.pk if version else None,
            "model_type": data.get("model_type") or "",
            "name": (data.get("name") or "").strip(),
            "tag": (data.get("tag") or "").lower(),
            "sort": data.get("sort") or "created",
            "descending": (data.get("order") or "desc") == "desc",
        }


class LaunchForm(forms.Form):
    config_file = forms.ChoiceField(
        required=False, label="Start from a config in configs/", choices=[]
    )
    config_text = forms.CharField(
        label="Config (YAML)",
        max_length=MAX_DOCUMENT_BYTES,
        strip=False,  # stored as submitted
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )

    def __init__(self, *args: Any, too_large_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["config_file"]).choices = [("", "(paste your own)")] + [
            (name, name) for name in config_files()
        ]
        # A request too large to read: there is no text, only the reason why.
        self.too_large_bytes = too_large_bytes
        if too_large_bytes is not None:
            self.fields["config_text"].required = False

    def clean_config_text(self) -> str:
        if self.too_large_bytes is not None:
            raise forms.ValidationError(
                f"The form sent {size(self.too_large_bytes)}, too large to read; a config may "
                f"be at most {size(MAX_DOCUMENT_BYTES)}. Shorten it and paste it again."
            )
        # Browsers send textarea lines ending in CRLF; a file has LF. Keep the
        # file's form so that the same config has the same digest either way.
        text: str = self.cleaned_data["config_text"].replace("\r\n", "\n")
        try:
            # The same parser and limits the service and the command use.
            parse_config(text, limits=config_limits())
        except ConfigError as error:
            raise forms.ValidationError(
                [f"{path}: {message}" for path, message in error.errors]
            ) from None
        return text


class CompareForm(forms.Form):
    """?ids=1&ids=2...: between 2 and 10 distinct experiment ids;
    ?baseline=<one of them> (default: see comparison.default_baseline);
    ?config=all shows every config key, not only those that differ."""

    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)
    baseline = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={
            "invalid_choice": "The baseline must be one of the compared experiments "
            "(got %(value)s)."
        },
    )
    config = forms.ChoiceField(
        required=False, choices=[("differences", "differences only"), ("all", "all keys")]
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        raw = data.getlist("ids") if data is not None else []
        # Only numbers that fit a 64-bit primary key; anything else is "not a valid choice".
        choices = [
            (value, value) for value in raw if value.isdigit() and len(value) <= MAX_ID_DIGITS
        ]
        cast(forms.ChoiceField, self.fields["ids"]).choices = choices
        cast(forms.ChoiceField, self.fields["baseline"]).choices = [("", "default"), *choices]

    def clean_ids(self) -> list[int]:
        ids = list(dict.fromkeys(self.cleaned_data["ids"]))
        if not MIN_COMPARE <= len(ids) <= MAX_COMPARE:
            raise forms.ValidationError(
                f"Select between {MIN_COMPARE} and {MAX_COMPARE} experiments to compare "
                f"(got {len(ids)})."
            )
        return ids

    @property
    def all_config(self) -> bool:
        return self.cleaned_data.get("config") == "all"
