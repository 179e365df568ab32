"""The registry review desk. Everything is read-only except the decision on
pending requests, which goes through the same service as the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from experiments.models import Metric
from mlplatform.admin_base import ReadOnlyAdmin, ReadOnlyInline
from mlplatform.origin import Origin
from registry import gate

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

from registry.models import (
    GateEvaluation,
    GatePolicy,
    HistoryChain,
    ModelVersion,
    RegisteredModel,
    StageRequest,
    StageTransition,
)


class _KeyMetrics(TypedDict):
    ap: float | None
    auc: float | None


def _metric_subquery(name: str) -> Subquery:
    rows = Metric.objects.filter(experiment_id=OuterRef("experiment_id"), name=name, step=None)
    return Subquery(rows.values("value")[:1])


def _report_block(report: dict[str, Any] | None) -> str:
    if not report:
        return "-"
    # Unwrapped, so that the metric table keeps its columns; it scrolls instead.
    style = "white-space: pre; overflow-x: auto; max-width: 50vw; font-size: 12px"
    return format_html("<pre style='{}'>{}</pre>", style, gate.format_report(report))


class StageTransitionInline(ReadOnlyInline[StageTransition, ModelVersion]):
    model = StageTransition
    fk_name = "model_version"
    fields = readonly_fields = (
        "created_at",
        "from_stage",
        "to_stage",
        "decision",
        "requested_by",
        "approved_by",
        "actor_label",
        "override",
        "reason",
    )
    ordering = ["-created_at"]


class ModelVersionInline(ReadOnlyInline[ModelVersion, RegisteredModel]):
    model = ModelVersion
    fields = readonly_fields = ("version", "stage", "experiment", "artifact_sha256", "created_at")


class GatePolicyInline(ReadOnlyInline[GatePolicy, RegisteredModel]):
    model = GatePolicy
    fields = readonly_fields = (
        "version",
        "created_at",
        "created_by",
        "actor_label",
        "channel",
        "reason",
    )
    ordering = ["-version"]


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin[RegisteredModel]):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [GatePolicyInline, ModelVersionInline]


class GatePolicyForm(forms.Form):
    registered_model = forms.ModelChoiceField(
        queryset=RegisteredModel.objects.order_by("name"), label="Model"
    )
    policy = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 20, "cols": 80, "style": "font-family: monospace"}),
        help_text="The whole policy, in YAML (see configs/gate_policy.yaml).",
    )
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the policy changes; recorded with your name.",
    )


@admin.register(GatePolicy)
class GatePolicyAdmin(ReadOnlyAdmin[GatePolicy]):
    """Policies are shown read-only; "add" records a new version of a model's
    policy through the same service as `manage.py gate_policy --set`."""

    list_display = ["registered_model", "version", "created_at", "set_by", "channel", "reason"]
    list_filter = ["registered_model"]
    list_select_related = ["registered_model", "created_by"]
    readonly_fields = [
        "registered_model",
        "version",
        "created_at",
        "set_by",
        "channel",
        "os_user",
        "host",
        "reason",
        "policy_text",
    ]
    exclude = ["policy", "created_by", "actor_label"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("registry.change_gatepolicy")

    @admin.display(description="set by")
    def set_by(self, obj: GatePolicy) -> str:
        return obj.created_by.get_username() if obj.created_by else obj.actor_label

    @admin.display(description="policy")
    def policy_text(self, obj: GatePolicy) -> str:
        from registry.services.policies import policy_as_text

        return format_html("<pre>{}</pre>", policy_as_text(obj.policy))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GatePolicyForm(request.POST if request.method == "POST" else None)
        if not form.is_bound:
            form.initial = self._initial(request)
        elif form.is_valid() and self._set(request, form):
            return redirect("admin:registry_gatepolicy_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Change a model's gate policy",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/registry/gatepolicy/set.html", context)

    def _initial(self, request: HttpRequest) -> dict[str, Any]:
        from registry.services.policies import policy_as_text

        model_id = request.GET.get("registered_model", "")
        current = (
            GatePolicy.objects.filter(registered_model_id=int(model_id))
            .order_by("-version")
            .first()
            if model_id.isdigit()
            else None
        )
        if current is None:
            return {}
        return {
            "registered_model": current.registered_model,
            "policy": policy_as_text(current.policy),
        }

    def _set(self, request: HttpRequest, form: GatePolicyForm) -> bool:
        from registry.services import gate_policy_set

        try:
            policy = gate_policy_set(
                model_name=form.cleaned_data["registered_model"].name,
                text=form.cleaned_data["policy"],
                user=request.user,
                reason=form.cleaned_data["reason"],
                origin=Origin.admin(),
            )
        except ValidationError as error:
            form.add_error(None, error)
            return False
        except PermissionDenied as error:
            form.add_error(None, str(error))
            return False
        self.message_user(request, f"recorded {policy}", messages.SUCCESS)
        return True


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin[ModelVersion]):
    list_display = [
        "registered_model",
        "version",
        "stage",
        "experiment",
        "average_precision",
        "roc_auc",
        "gate_outcome",
        "created_at",
    ]
    list_filter = ["stage", "registered_model"]
    list_select_related = ["registered_model", "experiment", "registration_gate"]
    readonly_fields = [
        "registered_model",
        "version",
        "stage",
        "experiment",
        "artifact_sha256",
        "created_by",
        "created_at",
        "stage_changed_at",
        "registration_report",
    ]
    exclude = ["registration_gate"]
    inlines = [StageTransitionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return (
            super()
            .get_queryset(request)
            .annotate(ap=_metric_subquery("average_precision"), auc=_metric_subquery("roc_auc"))
        )

    @admin.display(description="avg precision", ordering="ap")
    def average_precision(self, obj: WithAnnotations[ModelVersion, _KeyMetrics]) -> str:
        return f"{obj.ap:.4f}" if obj.ap is not None else "-"

    @admin.display(description="ROC AUC", ordering="auc")
    def roc_auc(self, obj: WithAnnotations[ModelVersion, _KeyMetrics]) -> str:
        return f"{obj.auc:.4f}" if obj.auc is not None else "-"

    @admin.display(description="registration gate", boolean=True)
    def gate_outcome(self, obj: ModelVersion) -> bool | None:
        return obj.registration_gate.passed if obj.registration_gate else None

    @admin.display(description="registration gate report")
    def registration_report(self, obj: ModelVersion) -> str:
        return _report_block(obj.registration_gate.report if obj.registration_gate else None)


@admin.register(GateEvaluation)
class GateEvaluationAdmin(ReadOnlyAdmin[GateEvaluation]):
    list_display = [
        "id",
        "registered_model",
        "candidate",
        "baseline_version",
        "policy",
        "purpose",
        "passed",
    ]
    list_filter = ["passed", "purpose", "registered_model"]
    list_select_related = [
        "registered_model",
        "candidate",
        "baseline_version__registered_model",
        "policy__registered_model",
    ]
    readonly_fields = [
        "registered_model",
        "candidate",
        "baseline_version",
        "policy",
        "purpose",
        "passed",
        "created_at",
        "report_text",
    ]
    exclude = ["report"]

    @admin.display(description="report")
    def report_text(self, obj: GateEvaluation) -> str:
        return _report_block(obj.report)


@admin.register(StageTransition)
class StageTransitionAdmin(ReadOnlyAdmin[StageTransition]):
    list_display = [
        "created_at",
        "model_version",
        "from_stage",
        "to_stage",
        "decision",
        "requested_by",
        "approved_by",
        "override",
    ]
    list_filter = ["decision", "to_stage", "override"]
    list_select_related = [
        "model_version__registered_model",
        "requested_by",
        "approved_by",
    ]


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required, approving or rejecting: recorded with your name.",
    )
    override_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Only to approve a request whose gate failed (needs the override permission).",
    )


class PageDecisionForm(DecisionForm):
    """The decision on one request's own page: approve or reject, with a reason."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="Recorded with your name in the stage history.",
    )

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")


@admin.register(StageRequest)
class StageRequestAdmin(ReadOnlyAdmin[StageRequest]):
    # Few, short columns: the list fits a 1,400 px screen beside the admin's sidebar.
    list_display = [
        "id",
        "model_version",
        "change",
        "requested_by",
        "requested_at",
        "gate_passed",
        "decision",
    ]
    list_display_links = ["id", "model_version"]
    change_form_template = "admin/registry/stagerequest/change_form.html"
    list_filter = ["status", "to_stage"]
    list_select_related = [
        "model_version__registered_model",
        "requested_by",
        "decided_by",
        "gate",
    ]
    readonly_fields = [
        "model_version",
        "from_stage",
        "to_stage",
        "reason",
        "requested_by",
        "requested_at",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "override",
        "gate_report",
    ]
    exclude = ["gate"]
    actions = ["approve_requests", "reject_requests"]

    @admin.display(description="gate", boolean=True)
    def gate_passed(self, obj: StageRequest) -> bool | None:
        return obj.gate.passed if obj.gate else None

    @admin.display(description="change", ordering="to_stage")
    def change(self, obj: StageRequest) -> str:
        return f"{obj.get_from_stage_display()} \u2192 {obj.get_to_stage_display()}"

    @admin.display(description="decision", ordering="status")
    def decision(self, obj: StageRequest) -> str:
        if obj.status in (StageRequest.Status.PENDING, StageRequest.Status.GATE_FAILED):
            return obj.get_status_display().lower()
        who = obj.decided_by.get_username() if obj.decided_by else "?"
        return f"{obj.get_status_display().lower()} by {who}"

    # ------------------------------------------------------------ the detail page

    def get_urls(self) -> list[URLPattern]:
        decide = path(
            "<path:object_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name="registry_stagerequest_decide",
        )
        return [decide, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The request with its gate report and, for an approver, the decision
        form: approve or reject here, not only as a bulk action."""
        context = {**(extra_context or {})}
        stage_request = self.get_object(request, object_id)
        if stage_request is not None:
            context.update(self._decision_context(request, stage_request, context))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _decision_context(
        self, request: HttpRequest, stage_request: StageRequest, context: dict[str, Any]
    ) -> dict[str, Any]:
        may_decide = request.user.has_perm("registry.approve_stage_change")
        return {
            "stage_request": stage_request,
            # A failed gate is decided only by an approver who may override it.
            "decision_open": may_decide
            and (
                stage_request.status == StageRequest.Status.PENDING
                or (
                    stage_request.status == StageRequest.Status.GATE_FAILED
                    and request.user.has_perm("registry.override_gate")
                )
            ),
            "own_request": stage_request.requested_by_id == request.user.pk,
            "gate_failed": stage_request.gate is not None and not stage_request.gate.passed,
            "can_override": request.user.has_perm("registry.override_gate"),
            "decision_form": context.get("decision_form") or PageDecisionForm(),
        }

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST from the detail page; the same service as every other channel."""
        # Imported here for the same reason as in _decide_one.
        from registry.services import ApprovalRefused, PromotionConflict, stage_request_decide

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        stage_request = self.get_object(request, object_id)
        if stage_request is None:
            raise Http404(f"no stage request #{object_id}")
        form = PageDecisionForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                decided = stage_request_decide(
                    request_id=stage_request.pk,
                    user=request.user,
                    approve=form.approve,
                    reason=form.cleaned_data["reason"],
                    override_justification=form.cleaned_data["override_justification"],
                    origin=Origin.admin(),
                )
            except (PromotionConflict, ApprovalRefused) as error:
                form.add_error(None, error)
                status = 409
            except ValidationError as error:
                form.add_error(None, error)
            except PermissionDenied as error:
                form.add_error(None, str(error))
                status = 403
            else:
                self.message_user(
                    request, f"request #{decided.pk} {decided.status}", messages.SUCCESS
                )
                return redirect("admin:registry_stagerequest_change", decided.pk)
        return self._refused(request, object_id, form, status)

    def _refused(
        self, request: HttpRequest, object_id: str, form: PageDecisionForm, status: int
    ) -> HttpResponse:
        """The detail page again, with the form and why it was refused."""
        request.method = "GET"  # the record itself is read-only: render, do not save
        response = self.change_view(request, object_id, extra_context={"decision_form": form})
        response.status_code = status
        return response

    @admin.display(description="gate report")
    def gate_report(self, obj: StageRequest) -> str:
        return _report_block(obj.gate.report if obj.gate else None)

    @admin.action(description="Approve selected requests…")
    def approve_requests(
        self, request: HttpRequest, queryset: QuerySet[StageRequest]
    ) -> HttpResponse | None:
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected requests…")
    def reject_requests(
        self, request: HttpRequest, queryset: QuerySet[StageRequest]
    ) -> HttpResponse | None:
        return self._decide(request, queryset, approve=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[StageRequest], *, approve: bool
    ) -> HttpResponse | None:
        form = DecisionForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._confirmation_page(request, queryset, form, approve)
        for stage_request in queryset:
            self._decide_one(request, stage_request, form.cleaned_data, approve)
        return None

    def _decide_one(
        self, request: HttpRequest, stage_request: StageRequest, data: dict[str, Any], approve: bool
    ) -> None:
        # Imported here: the services pull in the training stack (scikit-learn,
        # skops), which every manage.py command would otherwise load at start-up.
        from registry.services import stage_request_decide

        try:
            decided = stage_request_decide(
                request_id=stage_request.pk,
                user=request.user,
                approve=approve,
                reason=data["reason"],
                override_justification=data["override_justification"],
                origin=Origin.admin(),
            )
        except (ValidationError, PermissionDenied) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, f"request #{stage_request.pk}: {text}", messages.ERROR)
            return
        self.message_user(request, f"request #{decided.pk} {decided.status}", messages.SUCCESS)

    def _confirmation_page(
        self,
        request: HttpRequest,
        queryset: QuerySet[StageRequest],
        form: DecisionForm,
        approve: bool,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Approve requests" if approve else "Reject requests",
            "opts": self.model._meta,
            "requests": [
                (item, gate.format_report(item.gate.report) if item.gate else None)
                for item in queryset.select_related("gate", "model_version__registered_model")
            ],
            "form": form,
            "action": "approve_requests" if approve else "reject_requests",
            "approve": approve,
        }
        return TemplateResponse(request, "admin/registry/stagerequest/decide.html", context)


@admin.register(HistoryChain)
class HistoryChainAdmin(ReadOnlyAdmin[HistoryChain]):
    """The heads of the governance record's hash chains (registry.history_chain):
    note them somewhere else (a ticket, a chat) to prove later that the record
    was not rewritten; *Verify the chains* walks every row now."""

    list_display = ("table", "length", "head_id", "head_hash")
    actions = ["verify_chains"]

    @admin.action(description="Verify the chains (walk every row)")
    def verify_chains(self, request: HttpRequest, queryset: QuerySet[HistoryChain]) -> None:
        from django.db import connection

        from registry import history_guard
        from registry.history_chain import chain_verify, chained_models

        for report in (chain_verify(model) for model in chained_models()):
            if report.ok:
                rows = f"{report.rows:,} row{'s' if report.rows != 1 else ''}"
                self.message_user(
                    request,
                    f"Chain {report.table}: OK, {rows}, head {report.head_hash}",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request, f"Chain {report.table}: {report.problem}", messages.ERROR
                )
        for name in history_guard.missing_triggers(connection):
            self.message_user(request, f"Append-only trigger missing: {name}", messages.ERROR)
