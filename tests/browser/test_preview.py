"""Preview in Debian's Chromium: a builder tests the Weather example's GetCurrentWeather against
the sandbox weather API of the live server, approves the call, and reads the exchange.

The action's server is `{site}/sandbox/weather` on 127.0.0.1; the deployment's private-address
allowlist names the live server's port, exactly as `make run` does for the sandbox.
"""

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from actions.models import Invocation, InvocationStatus
from actions.openapi.examples import EXAMPLES
from actions.services import action_create
from tests.browser.conftest import SCREENSHOTS
from tests.factories import PASSWORD, add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def weather_action(site, settings):
    port = urlsplit(site).port
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    make_workspace("Globex", plan=Plan.TEAM)  # a second tenant, never shown
    builder = add_member(acme, role=Role.BUILDER, username="bea")
    gpt = make_gpt(acme, created_by=builder, name="Weather helper", visibility="workspace")
    [example] = [e for e in EXAMPLES if e["key"] == "weather"]
    document = json.loads(example["schema"])
    document["servers"] = [{"url": f"{site}/sandbox/weather"}]
    return action_create(gpt=gpt, acting_user=builder, schema=json.dumps(document, indent=2))


def log_in(page, site, username):
    page.goto(f"{site}/accounts/login/?next=/editor/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}/editor/")


def test_preview_runs_the_operation_with_approval(page, site, weather_action, screenshot):
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/actions/{weather_action.pk}/")
    page.get_by_role("link", name="Test GetCurrentWeather").click()
    expect(page).to_have_url(
        f"{site}/editor/actions/{weather_action.pk}/operations/GetCurrentWeather/test"
    )
    expect(page.get_by_role("heading", name="Test GetCurrentWeather")).to_be_visible()

    page.get_by_label("location").fill("Paris")
    page.get_by_role("button", name="Run").click()

    # The approval prompt: GPT, domain and what will be sent; nothing has been sent yet.
    approval = page.locator("#approval")
    expect(approval).to_be_visible()
    expect(approval).to_contain_text("Weather helper wants to send this request to 127.0.0.1")
    expect(approval).to_contain_text("/sandbox/weather/location?location=Paris")
    expect(page.get_by_role("button", name="Always allow")).to_be_visible()
    assert not Invocation.objects.exists()
    screenshot("approval")
    page.get_by_role("button", name="Allow", exact=True).click()

    status = page.locator("#response-status")
    expect(status).to_have_text("200")
    expect(page.locator("#request-wire")).to_contain_text(
        "GET " + site + "/sandbox/weather/location?location=Paris"
    )
    body = page.locator("#response-body")
    expect(body).to_contain_text('"location": "Paris"')
    expect(body).to_contain_text('"temperature_c"')
    expect(page.locator("#response-headers")).to_contain_text("content-type")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "preview.png"), full_page=True)

    shown = json.loads(body.inner_text())
    assert shown["location"] == "Paris"
    invocation = Invocation.objects.get()
    assert (invocation.status, invocation.http_status, invocation.operation_id) == (
        InvocationStatus.OK,
        200,
        "GetCurrentWeather",
    )


def test_preview_names_a_missing_argument_and_declines(page, site, weather_action):
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/actions/{weather_action.pk}/operations/GetCurrentWeather/test")
    page.get_by_role("button", name="Run").click()
    problem = page.locator("#problem")
    expect(problem).to_be_visible()
    # A heading people read, not the machine code (issue 17.6).
    expect(page.locator("#problem-title")).to_have_text("Check the arguments")
    expect(problem).not_to_contain_text("invalid_arguments")
    expect(problem).to_contain_text("location")

    page.get_by_label("location").fill("Oslo")
    page.get_by_role("button", name="Run").click()
    page.get_by_role("button", name="Decline").click()
    expect(problem).to_contain_text("Declined")
    assert Invocation.objects.filter(status=InvocationStatus.DECLINED).count() == 1
