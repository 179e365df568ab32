"""Exploring results in a real browser (Debian's headless Chromium through
Playwright, a live server): the compare page against the production
baseline, the sortable list with its column picker, tags and notes, and the
admin desk's decision on a request's own page.

Screenshots go to test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from experiments.models import Experiment
from mlplatform.tests.factories import make_dataset_version, make_experiment, make_model_version
from notes.models import AnnotationRevision
from registry.models import ModelVersion, Stage, StageRequest, StageTransition
from registry.tests.conftest import promote
from registry.tests.test_browser_flow import SCREENSHOTS, browser, log_in, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Transactional: the live server reads the rows from its own connection.
    pytest.mark.django_db(transaction=True),
]
__all__ = ["browser"]  # the fixture, shared with the flow test

# A model policy as wide as the bounds allow, so that every run registers and is gated
# against production.
WIDE_POLICY = {
    "primary_metric": "average_precision",
    "min_positives": 20,
    "bootstrap": {"resamples": 200, "confidence": 0.95, "seed": 3},
    "metrics": {"average_precision": {"threshold": 0.05, "max_drop": 0.1}},
}


def run_with(strength: float) -> dict[str, Any]:
    params = {"C": strength, "class_weight": "balanced", "max_iter": 500}
    return {"name": f"c_{strength}", "params": params}


def column(page: Page, experiment: Experiment) -> Any:
    return page.locator(f'th.run-head[data-experiment="{experiment.pk}"]')


def test_it_compares_runs_against_the_production_baseline(
    live_server: LiveServer,
    browser: Browser,
    registered: Callable[..., ModelVersion],
    experimenter: User,
    approver: User,
    viewer: User,
    set_policy: Callable[..., Any],
) -> None:
    set_policy(WIDE_POLICY)
    production = promote(registered(**run_with(0.01)), experimenter, approver).experiment
    middle = registered(**run_with(0.1)).experiment  # each gated against production
    strong = registered(**run_with(1.0)).experiment

    page = log_in(browser, live_server.url, "vera")
    page.goto("/experiments/")
    for experiment in (middle, production, strong):
        page.check(f"input[name=ids][value='{experiment.pk}']")
    page.click("#compare-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/experiments/compare/\?"))

    # The production run is the baseline although it was ticked second.
    expect(column(page, production)).to_have_class(re.compile("baseline"))
    expect(column(page, production)).to_contain_text("Production")
    expect(page.locator("#baseline-note")).to_contain_text("(the production version)")
    # Each other run: a signed delta, and the interval of the gate that compared the pair.
    order = [
        int(pk)
        for pk in page.locator("th.run-head").evaluate_all(
            "heads => heads.map(head => head.dataset.experiment)"
        )
    ]
    average_precision = page.locator('tr[data-metric="average_precision"] td')
    other = average_precision.nth(order.index(middle.pk))
    expect(other.locator(".delta")).to_have_text(re.compile(r"^[+-]\d\.\d{4}"))
    expect(other.locator(".ci")).to_have_text(
        re.compile(r"^95% CI \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]$")
    )
    expect(average_precision.nth(order.index(production.pk)).locator(".delta")).to_have_count(0)
    # "Best" only where a direction is known; counts and timings are shown, not ranked.
    expect(page.locator("tbody.group-quality td.best").first).to_be_visible()
    for unranked in ("tp", "fp", "tn", "fn", "fit_time_seconds", "holdout_rows"):
        expect(page.locator(f'tr[data-metric="{unranked}"] td.best')).to_have_count(0)
    expect(page.locator('tr[data-metric="fit_time_seconds"] td .value').first).to_have_text(
        re.compile(r" (ms|s)$")
    )
    # Overlaid curves with the area in each legend entry, and values on hover.
    pr_chart = page.locator('figure.chart[data-chart="Precision-recall"]')
    expect(pr_chart.locator("polyline.series")).to_have_count(3)
    expect(pr_chart.locator(".chart-legend li")).to_have_count(3)
    expect(pr_chart.locator(".chart-legend li").first).to_contain_text(re.compile(r"AP \d\.\d{4}"))
    expect(page.locator('figure.chart[data-chart="ROC"] .chart-legend li').first).to_contain_text(
        "ROC-AUC"
    )
    shot(page, "compare")
    pr_chart.locator("circle.point").nth(20).hover(force=True)  # points of several runs overlap
    tip = page.locator(".chart-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(re.compile(r"threshold \d\.\d{4}, precision \d\.\d{4}, recall"))
    page.screenshot(path=str(SCREENSHOTS / "compare-hover.png"))  # the viewport, with the tip
    # The runs differ in one number: the metrics are also plotted against it.
    expect(page.locator("#sweep")).to_contain_text("model.params.C")
    expect(page.locator("#sweep figure.chart")).to_have_count(3)
    # Differences only by default; every key on request.
    differing = page.locator("#config-table tbody tr").count()
    page.click("#toggle-differences")
    expect(page.locator("#config-table tbody tr")).not_to_have_count(differing)
    assert page.locator("#config-table tbody tr").count() > differing

    # Another baseline, chosen in its column's header.
    column(page, strong).locator("a.make-baseline").click()
    expect(column(page, strong)).to_have_class(re.compile("baseline"))
    expect(average_precision.nth(order.index(strong.pk)).locator(".delta")).to_have_count(0)
    expect(average_precision.nth(order.index(production.pk)).locator(".delta")).to_have_count(1)
    shot(page, "compare-other-baseline")


def test_it_sorts_the_list_keeps_chosen_columns_and_tags_runs(
    live_server: LiveServer, browser: Browser, experimenter: User
) -> None:
    version = make_dataset_version()
    started = timezone.now() - timedelta(hours=1)
    for name, seconds, recall in (("beta", 125, 0.4), ("alpha", 2.8, 0.9), ("gamma", 40, 0.6)):
        make_experiment(
            version,
            name=name,
            metrics={"average_precision": recall / 2, "recall": recall, "tp": 1000 * recall},
            started_at=started,
            finished_at=started + timedelta(seconds=seconds),
        )
    page = log_in(browser, live_server.url, "erin")
    page.goto("/experiments/")
    names = page.locator("table.experiments tbody tr td:nth-child(3) > a")

    # Clicking a header sorts by it; clicking again reverses.
    page.click('th[data-sort="name"] a')
    expect(page.locator('th[data-sort="name"]')).to_have_attribute("aria-sort", "ascending")
    expect(names).to_have_text(["alpha", "beta", "gamma"])
    page.click('th[data-sort="name"] a')
    expect(names).to_have_text(["gamma", "beta", "alpha"])
    page.click('th[data-sort="duration"] a')
    expect(names).to_have_text(["beta", "gamma", "alpha"])  # the longest first
    expect(page.locator("table.experiments")).to_contain_text("2 min 5 s")
    shot(page, "experiments-list-sorted")

    # Metric columns chosen once, kept on the next visit.
    page.click("#column-picker summary")
    page.check("#column-picker input[value=tp]")
    page.uncheck("#column-picker input[value=average_precision]")
    page.click("#save-columns")
    expect(page.locator('th[data-sort="tp"]')).to_be_visible()
    page.goto("/experiments/")
    expect(page.locator('th[data-sort="tp"]')).to_be_visible()
    expect(page.locator('th[data-sort="average_precision"]')).to_have_count(0)
    expect(page.locator("table.experiments")).to_contain_text("900")

    # Tags and a note on a run; the history keeps both edits; the tag filters the list.
    alpha = Experiment.objects.get(name="alpha")
    page.goto(f"/experiments/{alpha.pk}/")
    page.click("details.annotation-edit summary")
    page.fill("#id_tags", "baseline, keep")
    page.fill("#id_note", "The reference run for the Q3 review.")
    page.click("#annotation-save")
    expect(page.locator("#tags")).to_contain_text("baseline")
    expect(page.locator("#note")).to_contain_text("The reference run for the Q3 review.")
    page.click("details.annotation-edit summary")
    page.fill("#id_tags", "baseline keep q3")
    page.click("#annotation-save")
    expect(page.locator("#tags li")).to_have_count(3)
    shot(page, "experiment-tags")
    page.click("#annotation a:has-text('History')")
    expect(page.locator("#revisions > li")).to_have_count(2)
    shot(page, "tags-history")
    page.goto(f"/experiments/{alpha.pk}/")
    page.click("#tags a:has-text('q3')")
    expect(names).to_have_text(["alpha"])
    assert AnnotationRevision.objects.count() == 2


def test_six_chosen_columns_keep_their_order_and_scroll_inside_their_card(
    live_server: LiveServer, browser: Browser, experimenter: User
) -> None:
    """The probe: at 1,440 px six metric columns overflowed the page (precision,
    recall and roc_auc cut off) and came back in alphabetical order."""
    version = make_dataset_version()
    chosen = ["roc_auc", "recall", "precision", "f1", "average_precision", "log_loss"]
    for n in range(3):
        make_experiment(
            version,
            name=f"a_rather_long_experiment_name_number_{n}",
            metrics=dict.fromkeys(chosen, 0.5 + n / 10),
        )
    page = log_in(browser, live_server.url, "erin")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/experiments/")
    page.click("#column-picker summary")
    for name in ["average_precision", "roc_auc", "f1"]:  # the defaults, unticked
        page.uncheck(f"#column-picker input[value={name}]")
    for name in chosen:  # ticked in this order
        page.check(f"#column-picker input[value={name}]")
    page.click("#save-columns")

    headers = page.locator("table.experiments thead th[data-sort]")
    keys = list(headers.evaluate_all("hs => hs.map(h => h.dataset.sort)"))
    assert keys[-6:] == chosen
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1440, f"the page is {page_width} px wide: the table overflows it"
    wrap = page.locator(".table-card .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "the table should scroll"
    shot(page, "experiments-list-six-columns")


def test_it_approves_a_request_on_its_own_page_of_the_admin_desk(
    live_server: LiveServer, browser: Browser, experimenter: User
) -> None:
    User.objects.create_superuser("root", "root@example.com", "pw-root")
    staged = make_model_version(make_experiment(make_dataset_version()), stage=Stage.STAGING)
    request = StageRequest.objects.create(
        model_version=staged,
        from_stage=Stage.STAGING,
        to_stage=Stage.ARCHIVED,
        reason="superseded by v2",
        requested_by=experimenter,
    )
    page = log_in(browser, live_server.url, "root")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/admin/registry/stagerequest/?status__exact=pending")
    results = page.locator("#result_list")
    expect(results).to_contain_text("Staging \u2192 Archived")
    expect(results).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"))
    # Every column fits: the results table needs no horizontal scrolling.
    assert page.evaluate(
        "() => { const box = document.querySelector('.results');"
        " return box.scrollWidth <= box.clientWidth; }"
    )
    shot(page, "admin-review-desk")

    results.locator(f"a[href*='/stagerequest/{request.pk}/change/']").first.click()
    decision = page.locator("#decision")
    expect(decision.locator("#decision-form")).to_be_visible()
    decision.locator("#id_reason").fill("Reviewed on the request's page.")
    shot(page, "admin-request")
    decision.locator("#admin-approve").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Request #{request.pk} approved")
    expect(decision).to_contain_text("This request was approved by root")
    shot(page, "admin-request-approved")

    request.refresh_from_db()
    staged.refresh_from_db()
    assert request.status == StageRequest.Status.APPROVED
    assert staged.stage == Stage.ARCHIVED
    entry = StageTransition.objects.get(request=request)
    assert entry.approved_by is not None
    assert entry.approved_by.username == "root"
    assert "Reviewed on the request's page." in entry.reason
