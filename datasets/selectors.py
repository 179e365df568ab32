from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from datasets.models import Dataset, DatasetFileCheck, DatasetVersion


def datasets_overview() -> QuerySet[Dataset]:
    """Every dataset with its versions (newest first), in two queries however many rows."""
    versions = _versions().order_by("-registered_at", "-pk")
    return Dataset.objects.prefetch_related(Prefetch("versions", queryset=versions))


def dataset_version_list() -> QuerySet[DatasetVersion]:
    return _versions().order_by("dataset__name", "registered_at", "pk")


def dataset_version_get(name: str, version: str) -> DatasetVersion:
    """Raises DatasetVersion.DoesNotExist when there is no such version."""
    return _versions().get(dataset__name=name, version=version)


def dataset_version_get_by_label(label: str) -> DatasetVersion:
    """Look up 'name:version'; raises DatasetVersion.DoesNotExist if absent or malformed."""
    name, separator, version = label.partition(":")
    if not separator:
        raise DatasetVersion.DoesNotExist(f"{label!r} is not of the form name:version")
    return dataset_version_get(name, version)


def dataset_version_page(*, name: str, version: str) -> DatasetVersion:
    """A version for its page: with its dataset, registrant and last file check."""
    return _versions().select_related("file_check").get(dataset__name=name, version=version)


def dataset_version_exists(*, name: str, version: str) -> bool:
    return DatasetVersion.objects.filter(dataset__name=name, version=version).exists()


def dataset_file_check_get(*, version: DatasetVersion) -> DatasetFileCheck | None:
    return DatasetFileCheck.objects.filter(version=version).first()


def _versions() -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.select_related("dataset", "registered_by")


def datasets_with_usage() -> QuerySet[Dataset]:
    """datasets_overview with `experiment_count` on each version, for the web page."""
    versions = (
        _versions()
        .annotate(experiment_count=Count("experiments"))
        .order_by("-registered_at", "-pk")
    )
    return Dataset.objects.prefetch_related(Prefetch("versions", queryset=versions))
