from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper

from datasets.models import DatasetVersion


class Status(models.TextChoices):
    CREATED = "created", "Created"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (Status.CREATED, Status.RUNNING)
FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


class Phase(models.TextChoices):
    NONE = "", "-"
    QUEUED = "queued", "Queued"
    LOADING = "loading data", "Loading data"
    FITTING = "fitting", "Fitting"
    EVALUATING = "evaluating", "Evaluating"
    SAVING = "saving", "Saving"
    REGISTERING = "registering", "Registering"


class Registration(models.TextChoices):
    """Where a COMPLETED experiment whose config names registry.model_name
    stands with its registration. Every attempt ends in an outcome."""

    NONE = "", "-"
    PENDING = "pending", "Waiting to register"
    REGISTERING = "registering", "Gating and registering"
    REGISTERED = "registered", "Registered"
    GATE_FAILED = "gate_failed", "Gate failed"
    ERROR = "error", "Registration error"


REGISTRATION_IN_PROGRESS = (Registration.PENDING, Registration.REGISTERING)
# Outcomes an experimenter may try again (gate and register again).
REGISTRATION_RETRYABLE = (Registration.ERROR, Registration.GATE_FAILED)


class Experiment(models.Model):
    """One run of one config. Status changes only through the claims in
    experiments.services (conditional updates), never by saving the row."""

    name = models.CharField(max_length=200)
    config_text = models.TextField(help_text="The YAML exactly as submitted.")
    config = models.JSONField(help_text="The parsed config with defaults filled in.")
    config_sha256 = models.CharField(max_length=64)
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="experiments"
    )
    model_type = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    phase = models.CharField(max_length=20, choices=Phase.choices, blank=True, default="")
    source = models.CharField(max_length=20, default="cli", help_text="cli, web or rerun.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="experiments",
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    # How far the fit has come, while the phase is fitting and the estimator
    # tells (experiments.fit_progress); cleared by every change of phase.
    progress_unit = models.CharField(max_length=20, blank=True, help_text="iteration or tree.")
    progress_done = models.PositiveIntegerField(null=True, blank=True)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    progress_at_most = models.BooleanField(
        default=False, help_text="The fit may stop early: the total is an upper bound."
    )
    progress_detail = models.CharField(max_length=100, blank=True, help_text="val loss 0.0041")
    progress_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)
    # The process that claimed the run (mlplatform.owners): only it refreshes
    # or completes it, and the reconciler fails it only once it is known dead.
    run_owner = models.CharField(max_length=200, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=3600)
    environment = models.JSONField(default=dict, blank=True)
    target = models.CharField(max_length=200, blank=True)
    feature_columns = models.JSONField(default=list, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    curves = models.JSONField(default=dict, blank=True)
    holdout = models.BinaryField(
        null=True, blank=True, help_text="Compressed row ids, labels and scores."
    )
    holdout_sha256 = models.CharField(max_length=64, blank=True)
    registration = models.CharField(
        max_length=20, choices=Registration.choices, blank=True, default=Registration.NONE
    )
    registration_message = models.TextField(blank=True)
    registration_heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Refreshed while gating and registering."
    )
    registration_owner = models.CharField(
        max_length=200, blank=True, help_text="The process gating and registering it."
    )
    registration_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Attempts in this series; a retry by hand starts a new series."
    )
    registration_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reconciler tries an `error` again."
    )
    # Not a column: name -> value of the scalar metrics, set on the experiments
    # that selectors.experiments_for_compare returns (and only on those).
    scalar_metrics: dict[str, float]

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("cancel_experiment", "Can cancel a queued or running experiment"),
            # Given to no role: staff get django-rq's dashboard only with it.
            ("view_queue_dashboard", "Can view the training queue dashboard (django-rq)"),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="experiment_status_created"),
            models.Index(fields=["-created_at", "-id"], name="experiment_created"),
            models.Index(fields=["model_type"], name="experiment_model_type"),
            models.Index(fields=["name"], name="experiment_name"),
            # Never searched (a substring match cannot use it), but PostgreSQL
            # keeps statistics on indexed expressions: without them it guesses
            # that ?name=<text> (UPPER(name) LIKE ...) matches 0.5% of the rows
            # and sorts the whole filtered list instead of walking an index.
            models.Index(Upper("name"), name="experiment_name_upper"),
            models.Index(
                fields=["registration"],
                condition=models.Q(registration__in=["pending", "registering"]),
                name="experiment_registering",
            ),
            # Registrations the reconciler will try again (set only on `error`).
            models.Index(
                fields=["registration_retry_at"],
                condition=models.Q(registration_retry_at__isnull=False),
                name="experiment_registration_retry",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_registering(self) -> bool:
        return self.registration in REGISTRATION_IN_PROGRESS

    @property
    def is_live(self) -> bool:
        """Something is still happening that the page should follow."""
        return self.is_active or self.is_registering


class Metric(models.Model):
    """A recorded value; step is set for per-iteration series (e.g. validation_loss)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=100)
    value = models.FloatField()
    step = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["experiment_id", "name", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "name"],
                condition=models.Q(step__isnull=True),
                name="metric_unique_scalar",
            ),
            models.UniqueConstraint(
                fields=["experiment", "name", "step"],
                condition=models.Q(step__isnull=False),
                name="metric_unique_step",
            ),
        ]
        indexes = [
            models.Index(fields=["name", "value"], name="metric_name_value"),
            # Scalar metrics only: the sort menu's distinct names (a loose index
            # scan) and the experiment list sorted by a metric (walked in order).
            models.Index(
                fields=["name", "value", "experiment"],
                condition=models.Q(step__isnull=True),
                name="metric_scalar_name_value",
            ),
        ]

    def __str__(self) -> str:
        suffix = f"@{self.step}" if self.step is not None else ""
        return f"{self.name}{suffix}={self.value:.6g}"


class ListColumns(models.Model):
    """The metric columns one user chose for the experiment list (a
    preference, not a record: it is overwritten, not versioned)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="experiment_list_columns"
    )
    metrics = models.JSONField(default=list, help_text="Metric names, in column order.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"list columns of {self.user}: {', '.join(self.metrics) or 'none'}"
