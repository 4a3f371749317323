"""What a new user tripped over, in Debian's Chromium (issue 17.6): "Always allow" offered on a
consequential operation, the Revoke column off a phone's screen, and a blocked domain shown as
"Valid" by the action page's live check. Screenshots at 1280 and 390 px."""

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from actions.models import ConnectedAccount, Consent
from actions.openapi.examples import EXAMPLES
from actions.services import action_create
from tests.browser.conftest import PHONE
from tests.factories import PASSWORD, add_member, make_gpt, make_workspace
from workspaces.models import AllowedDomain, Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def weather_document(site: str, *, consequential: bool | None = None) -> str:
    [example] = [e for e in EXAMPLES if e["key"] == "weather"]
    document = json.loads(example["schema"])
    document["servers"] = [{"url": f"{site}/sandbox/weather"}]
    if consequential is not None:
        for operations in document["paths"].values():
            for operation in operations.values():
                operation["x-openai-isConsequential"] = consequential
    return json.dumps(document, indent=2)


@pytest.fixture
def acme(site, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{urlsplit(site).port}"]
    workspace = make_workspace("Acme", plan=Plan.ENTERPRISE)
    builder = add_member(workspace, role=Role.BUILDER, username="bea")
    member = add_member(workspace, role=Role.MEMBER, username="mo")
    gpt = make_gpt(workspace, created_by=builder, name="Weather helper", visibility="workspace")
    return {"workspace": workspace, "builder": builder, "member": member, "gpt": gpt}


def log_in(page, site, username, next_url="/editor/"):
    page.goto(f"{site}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}{next_url}")


def test_always_allow_is_not_offered_on_a_consequential_operation(page, site, acme, screenshot):
    action = action_create(
        gpt=acme["gpt"],
        acting_user=acme["builder"],
        schema=weather_document(site, consequential=True),
    )
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/actions/{action.pk}/operations/GetCurrentWeather/test")
    page.get_by_label("location").fill("Paris")
    page.get_by_role("button", name="Run").click()
    approval = page.locator("#approval")
    expect(approval).to_be_visible()
    expect(approval).to_contain_text("consequential")
    # The button's hidden attribute holds against the page's CSS (`button` is inline-block).
    expect(page.locator("#always-allow")).to_be_hidden()
    expect(page.get_by_role("button", name="Allow", exact=True)).to_be_visible()
    screenshot("consequential-1280")
    screenshot("consequential-390", width=390)
    page.get_by_role("button", name="Allow", exact=True).click()
    expect(page.locator("#response-status")).to_have_text("200")
    assert not Consent.objects.exists()


def test_always_allow_is_offered_on_an_inconsequential_operation(page, site, acme):
    action = action_create(
        gpt=acme["gpt"],
        acting_user=acme["builder"],
        schema=weather_document(site, consequential=False),
    )
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/actions/{action.pk}/operations/GetCurrentWeather/test")
    page.get_by_label("location").fill("Paris")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#always-allow")).to_be_visible()


def test_the_revoke_column_is_on_a_phones_screen(page, site, acme, screenshot):
    action = action_create(
        gpt=acme["gpt"], acting_user=acme["builder"], schema=weather_document(site)
    )
    ConnectedAccount.objects.create(
        user=acme["member"],
        action=action,
        gpt=acme["gpt"],
        workspace=acme["workspace"],
        scopes="read write offline_access",
    )
    Consent.objects.create(
        user=acme["member"],
        action=action,
        gpt=acme["gpt"],
        workspace=acme["workspace"],
        operation_id="GetCurrentWeather",
    )
    log_in(page, site, "mo", next_url="/me/connections/")
    screenshot("connections-1280")
    page.set_viewport_size(PHONE)
    for name in ("Revoke the connection", "Revoke the approval"):
        button = page.get_by_role("link", name=name)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # Nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("connections-390", width=390)


def test_a_blocked_domain_is_never_shown_as_valid(page, site, acme, screenshot):
    action = action_create(
        gpt=acme["gpt"], acting_user=acme["builder"], schema=weather_document(site)
    )
    workspace = acme["workspace"]
    workspace.allow_all_domains = False
    workspace.save()
    AllowedDomain.objects.create(workspace=workspace, pattern="example.com")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/actions/{action.pk}/")
    expect(page.locator("#domain-problem")).to_be_visible()
    expect(page.locator("#domain-problem")).to_contain_text("127.0.0.1")
    status = page.locator("#schema-status")
    # The live check has run (the gutter marks lines) and still says what the policy says.
    page.locator("#id_schema").press("End")
    page.locator("#id_schema").type(" ")
    expect(status).to_contain_text("Not allowed", timeout=10_000)
    page.wait_for_timeout(1500)
    expect(status).to_contain_text("Not allowed")
    expect(status).not_to_contain_text("Valid")
    expect(page.locator("#error-list")).to_contain_text("127.0.0.1")
    screenshot("blocked-1280")
    screenshot("blocked-390", width=390)


def test_the_gpt_pages_at_both_widths(page, site, acme, screenshot):
    """Not an assertion of looks: the screenshots of the new controls, for a person to check."""
    action_create(gpt=acme["gpt"], acting_user=acme["builder"], schema=weather_document(site))
    make_gpt(acme["workspace"], created_by=acme["builder"], name="Drive helper", apps=["github"])
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/?q=helper")
    expect(page.get_by_text("2 GPTs matching")).to_be_visible()
    screenshot("list-1280")
    screenshot("list-390", width=390)
    page.get_by_role("link", name="Drive helper").click()
    expect(page.locator("#apps")).to_be_visible()
    screenshot("apps-1280")
    screenshot("apps-390", width=390)
    page.get_by_role("link", name="Duplicate").click()
    screenshot("duplicate-390", width=390)
    page.get_by_role("button", name="Duplicate GPT").click()
    expect(page.get_by_role("heading", name="Copy of Drive helper")).to_be_visible()
    page.get_by_role("link", name="Delete GPT").click()
    page.get_by_role("button", name="Delete GPT").click()
    expect(page).to_have_url(f"{site}/editor/")
    expect(page.get_by_text("Deleted Copy of Drive helper.")).to_be_visible()
