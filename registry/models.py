from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from experiments.models import Experiment


class Stage(models.TextChoices):
    NONE = "none", "None"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class RegisteredModel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not a column: set on the models that selectors.registered_models_index returns.
    unlisted_count: int

    class Meta:
        ordering = ["name"]
        permissions = [
            ("request_stage_change", "Can request a stage change of a model version"),
            ("approve_stage_change", "Can approve or reject a stage change request"),
            ("override_gate", "Can approve a production request whose gate failed"),
        ]

    def __str__(self) -> str:
        return self.name


class OriginFields(models.Model):
    """Where a write came from (mlplatform.origin.Origin)."""

    channel = models.CharField(
        max_length=20,
        blank=True,
        help_text="web, admin, cli, api or worker (empty: recorded before channels were kept).",
    )
    os_user = models.CharField(max_length=150, blank=True, help_text="For cli: the OS account.")
    host = models.CharField(max_length=255, blank=True, help_text="For cli: the host.")

    class Meta:
        abstract = True


class ChainedRow(models.Model):
    """A row of an append-only table, linked into its hash chain."""

    row_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the previous row's hash and this row (registry.history_chain).",
    )

    class Meta:
        abstract = True


class GatePolicy(OriginFields, ChainedRow):
    """One version of a registered model's gate policy: the whole policy, who
    set it, when and why. Append-only: a change is a new row with the next
    version number (the database refuses updates and deletes). The current
    policy is the row with the highest version."""

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="gate_policies"
    )
    version = models.PositiveIntegerField()
    policy = models.JSONField(help_text="The whole policy, as registry.gate.policy reads it.")
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who set it when no user did (the project default)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["registered_model__name", "-version"]
        verbose_name_plural = "gate policies"
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version"], name="gate_policy_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"gate policy v{self.version} of {self.registered_model.name}"


class GateEvaluation(ChainedRow):
    """One run of the regression gate, kept whatever its outcome."""

    class Purpose(models.TextChoices):
        REGISTRATION = "registration", "Registration"
        PROMOTION = "promotion", "Promotion request"

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="gate_evaluations"
    )
    candidate = models.ForeignKey(
        Experiment, on_delete=models.PROTECT, related_name="gate_evaluations"
    )
    baseline_version = models.ForeignKey(
        "ModelVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The production version compared against, if there was one.",
    )
    policy = models.ForeignKey(
        GatePolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The model's gate policy version applied (empty for gates run before policies).",
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    passed = models.BooleanField()
    report = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        outcome = "passed" if self.passed else "failed"
        return f"gate {outcome} for experiment #{self.candidate_id}"


class ModelVersion(models.Model):
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField()
    experiment = models.OneToOneField(
        Experiment, on_delete=models.PROTECT, related_name="model_version"
    )
    artifact_sha256 = models.CharField(max_length=64)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NONE)
    registration_gate = models.ForeignKey(
        GateEvaluation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["registered_model__name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version"], name="model_version_unique"
            ),
            # The database, not only the code, guarantees one production version.
            models.UniqueConstraint(
                fields=["registered_model"],
                condition=models.Q(stage="production"),
                name="one_production_version_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.version}"


class StageRequest(OriginFields):
    """A request to move a version to a stage; decided once by an approver.
    channel, os_user and host say where the request was made."""

    class Status(models.TextChoices):
        GATING = "gating", "Gating"
        PENDING = "pending", "Pending"
        # Gated, and the gate failed: decided only by an approver who may
        # override it (approve with a justification, or reject), or withdrawn.
        GATE_FAILED = "gate_failed", "Gate failed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="stage_requests"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    gate = models.ForeignKey(
        GateEvaluation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # The process computing the gate of a `gating` request (mlplatform.owners)
    # and its proof of life; another process gates it only once it is dead.
    gate_owner = models.CharField(max_length=200, blank=True)
    gate_heartbeat_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    override = models.BooleanField(default=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "-requested_at"], name="stage_request_status")]
        constraints = [
            # The database, not only the code, keeps one open request per version,
            # whatever the stage it asks for.
            models.UniqueConstraint(
                fields=["model_version"],
                condition=models.Q(status__in=["gating", "pending", "gate_failed"]),
                name="one_open_request_per_version",
            ),
        ]

    def __str__(self) -> str:
        return f"request #{self.pk}: {self.model_version} -> {self.to_stage} ({self.status})"


class StageTransition(OriginFields, ChainedRow):
    """Append-only history of every decision on a stage: applied changes,
    rejected, superseded and withdrawn requests, and refused approvals (the
    version stays where it was). Rows are inserted, never updated or deleted
    (the database refuses both). channel, os_user and host say where the
    decision was taken."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        AUTOMATIC = "automatic", "Automatic"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REFUSED = "refused", "Approval refused"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="transitions"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    request = models.ForeignKey(
        StageRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who acted when no user did (e.g. the gate)."
    )
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.TextField()
    gate_report = models.JSONField(null=True, blank=True)
    override = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model_version}: {self.from_stage} -> {self.to_stage}"


class HistoryChain(models.Model):
    """The head of one append-only table's hash chain (registry.history_chain):
    its last row and that row's hash. Updated with every append, in the same
    transaction; verify_history checks it against the rows."""

    table = models.CharField(max_length=100, primary_key=True)
    head_id = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, default="0" * 64)
    length = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.table}: {self.length:,} rows, head {self.head_hash[:12]}…"
