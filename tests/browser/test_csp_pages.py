"""The Content-Security-Policy breaks nothing: in Chromium, the pages people use and the API's
Swagger UI load with no CSP violation reported, and Swagger UI really renders the API."""

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    return violations


def test_pages_and_swagger_ui_run_under_the_policy(page, site):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    builder = add_member(acme, role=Role.BUILDER, username="bea")
    gpt = make_gpt(acme, created_by=builder, name="Weather helper", visibility="workspace")
    violations = watch_csp(page)
    page.goto(f"{site}/accounts/login/?next=/editor/")
    page.get_by_label("Username").fill("bea")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/editor/")
    for path in ("/editor/", f"/editor/gpts/{gpt.pk}/", "/me/connections/"):
        page.goto(f"{site}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{site}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Actions platform API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations == []
