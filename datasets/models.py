from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

# Names and versions end up in paths, URLs and config files: keep them plain.
# The first character may not be '.' or '-', so '..' and '-x' are refused too.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
name_validator = RegexValidator(
    NAME_PATTERN,
    "Use only letters, digits, '_', '.' and '-' (no spaces or slashes), "
    "starting with a letter, digit or '_'.",
)


class Dataset(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[name_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    """One immutable, registered file. Nothing updates these rows after insert."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50, validators=[name_validator])
    path = models.CharField(max_length=500, help_text="Relative to DATA_ROOT.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    row_count = models.BigIntegerField()
    columns = models.JSONField(help_text='[{"name": ..., "dtype": ...}, ...] in file order.')
    target = models.CharField(max_length=200)
    positive_label = models.CharField(
        max_length=200,
        blank=True,
        help_text="The target class that training counts as 1 (the other as 0); "
        "empty when the target holds 0 and 1.",
    )
    class_counts = models.JSONField(help_text='{"<class>": count} of the target column.')
    column_stats = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"<column>": {"min", "max", "mean", "missing"}} computed at registration; '
        "empty for versions registered before it was recorded.",
    )
    description = models.TextField(blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registered_dataset_versions",
    )
    registered_by_name = models.CharField(
        max_length=150, help_text="Username, or 'cli:<os user>' for an anonymous command run."
    )
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset__name", "-registered_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="dataset_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}:{self.version}"

    @property
    def label(self) -> str:
        return f"{self.dataset.name}:{self.version}"


class DatasetFileCheck(models.Model):
    """The file's identity when its digest was last verified. If size, mtime and
    inode still match, the load path can skip re-hashing; the version row itself
    stays immutable."""

    version = models.OneToOneField(
        DatasetVersion, on_delete=models.CASCADE, related_name="file_check"
    )
    size_bytes = models.BigIntegerField()
    mtime_ns = models.BigIntegerField()
    inode = models.BigIntegerField()
    verified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"check of {self.version_id} at {self.verified_at:%Y-%m-%d %H:%M}"


class DatasetRowIdentities(models.Model):
    """A stable identity for every row of a version: a 64-bit hash of the row's
    feature values (datasets.identity), in file order. Rows with equal values in
    two versions have equal identities, so the regression gate can tell which
    rows of one version a model trained on another version has seen. Inserted
    once, never changed."""

    version = models.OneToOneField(
        DatasetVersion, on_delete=models.CASCADE, related_name="row_identities"
    )
    method = models.CharField(max_length=200)
    columns = models.JSONField(help_text="The feature columns hashed, in hashing order.")
    hashes = models.BinaryField(help_text="uint64 little-endian, one per row, in file order.")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"row identities of {self.version_id}"


class DatasetCacheDigest(models.Model):
    """The SHA-256 of a version's Arrow cache as it was written from the
    verified file, per cache format (the pyarrow that wrote it): a cache
    that no longer matches is not read but rebuilt."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="caches")
    format = models.CharField(max_length=100, help_text="arrow-ipc, and the pyarrow that wrote it.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "format"], name="dataset_cache_one_per_format"
            )
        ]

    def __str__(self) -> str:
        return f"cache of {self.version.label} ({self.format})"
