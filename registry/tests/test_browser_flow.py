"""The day-to-day flow in a real browser: Debian's headless Chromium driven
by Playwright (no browser download), a live server, a real Redis and a real
`rqworker training` process sharing the test database.

Screenshots of the main pages go to test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from datasets.models import DatasetVersion
from experiments.models import Experiment, Status
from experiments.tests.rq_helpers import WorkerProcess
from mlplatform.testing import config_yaml
from registry.models import ModelVersion, Stage

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
TRAINING_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Transactional: a worker process reads the rows.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH")
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM checks are synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Under Playwright's sync API the test's ORM calls run in a greenlet
        # with its own context, hence their own connection: close it here, or
        # PostgreSQL refuses to drop the test database at the end of the run.
        connections.close_all()


def log_in(browser: Browser, base_url: str, username: str) -> Page:
    page = browser.new_context(
        base_url=base_url, viewport={"width": 1360, "height": 900}
    ).new_page()
    page.set_default_timeout(30_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    expect(page.locator(".account .who")).to_contain_text(username)
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_until_completed(page: Page) -> int:
    """On an experiment page: the live status must reach Completed without a
    manual reload (htmx polls, then reloads the page when the run ends)."""
    expect(page.locator("#status-badge")).to_have_text("Completed", timeout=TRAINING_TIMEOUT_MS)
    expect(page.locator("#metrics-heading")).to_be_visible()
    # Then it is gated and registered; the page follows that too, to its outcome.
    expect(page.locator("#registered-version")).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    found = re.search(r"/experiments/(\d+)/", page.url)
    assert found is not None, page.url
    return int(found.group(1))


def test_it_launches_compares_and_promotes_through_the_browser(
    live_server: LiveServer,
    browser: Browser,
    start_worker: Callable[..., WorkerProcess],
    registered_dataset: DatasetVersion,
    experimenter: User,
    approver: User,
) -> None:
    start_worker()
    config = config_yaml(dataset=registered_dataset, name="browser_baseline")

    page = log_in(browser, live_server.url, "erin")
    shot(page, "dashboard-empty")

    # Launch from the form; the page follows the run live until it completes.
    page.goto("/experiments/new/")
    page.select_option("#id_config", "fraud_baseline.yaml")  # htmx loads it into the editor
    expect(page.locator("#id_config_text")).to_have_value(
        re.compile("experiment_name: fraud_baseline")
    )
    page.fill("#id_config_text", "experiment_name: [unclosed")
    page.click("#launch-button")
    expect(page.locator("#config-errors")).to_contain_text("YAML error")
    page.fill("#id_config_text", config)
    shot(page, "launch")
    page.click("#launch-button")
    expect(page).to_have_url(re.compile(r"/experiments/\d+/$"))
    first_id = wait_until_completed(page)
    expect(page.locator("figure.chart")).to_have_count(2)  # PR and ROC
    expect(page.locator("table.confusion")).to_be_visible()
    shot(page, "experiment-detail")

    # Run the same config again, for something to compare.
    page.click("#rerun-button")
    expect(page).not_to_have_url(re.compile(rf"/experiments/{first_id}/$"))
    second_id = wait_until_completed(page)

    # Compare the two from the list.
    page.goto("/experiments/")
    shot(page, "experiments-list")
    page.check(f"input[name=ids][value='{first_id}']")
    page.check(f"input[name=ids][value='{second_id}']")
    page.click("#compare-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/experiments/compare/\?"))
    expect(page.locator("#metrics-table")).to_be_visible()
    expect(page.locator("figure.chart polyline.series")).to_have_count(4)
    shot(page, "compare")

    page.goto("/datasets/")
    shot(page, "datasets")
    page.goto(f"/datasets/{registered_dataset.dataset.name}/{registered_dataset.version}/")
    shot(page, "dataset-version")

    # Request production for the first version, as the experimenter.
    version = ModelVersion.objects.get(experiment_id=first_id)
    version_url = f"/registry/models/fraud_detector/versions/{version.version}/"
    page.goto(version_url)
    page.select_option("#id_to_stage", "production")
    page.fill("#id_reason", "Baseline from the browser test")
    page.click("#request-button")
    expect(page.locator(".messages")).to_contain_text("being gated against production")
    # A worker runs the gate; the page polls, then shows the report.
    expect(page.locator(".pending-request .gate-report")).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    expect(page.locator(".pending-request h2")).to_contain_text("Pending request")
    shot(page, "version-requested")

    # Approve it as the approver, after reading the gate report on the page.
    approver_page = log_in(browser, live_server.url, "arthur")
    approver_page.goto(version_url)
    request_section = approver_page.locator(".pending-request")
    expect(request_section.locator(".gate-report")).to_be_visible()
    expect(request_section.locator(".gate-summary")).to_contain_text("Gate passed")
    shot(approver_page, "version-pending-approval")
    request_section.locator("textarea[name=reason]").fill("Gate passed; metrics reviewed.")
    request_section.locator("button[value=approve]").click()
    expect(approver_page.locator("#stage")).to_have_text("Production")
    shot(approver_page, "version-approved")

    # The dashboard shows the new production version.
    approver_page.goto("/")
    production_row = approver_page.locator("tr.stage-row-production")
    expect(production_row).to_contain_text(f"v{version.version}")
    expect(production_row).to_contain_text("Production")
    shot(approver_page, "dashboard")
    approver_page.goto("/registry/")
    shot(approver_page, "registry")

    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    assert Experiment.objects.filter(status=Status.COMPLETED).count() == 2
