"""The admin's Actions review page in Chromium: an admin approves a pending operation and
disables another with the admin actions, and the page shows the new state."""

import pytest
from playwright.sync_api import expect

from actions.models import Operation
from tests.factories import PASSWORD, add_member, make_action, make_gpt, make_workspace
from workspaces.models import Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_reviews_operations(page, site, screenshot):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    add_member(acme, role=Role.ADMIN, staff=True, username="erin")
    gpt = make_gpt(acme, name="Weather helper", visibility="workspace")
    make_action(gpt, domain="api.weather.example", operations=["getWeather", "deleteCity"])
    Operation.objects.filter(operation_id="getWeather").update(review="pending")
    other = make_workspace("Globex")
    make_action(
        make_gpt(other, name="Globex bot"), domain="api.globex.example", operations=["globexOnly"]
    )

    page.goto(f"{site}/admin/login/?next=/admin/actions/review/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/admin/actions/review/")
    expect(page.locator("#result_list")).to_contain_text("Waiting for review")
    expect(page.locator("#result_list")).not_to_contain_text("globexOnly")
    screenshot("01-pending")

    row = page.locator("#result_list tr", has_text="getWeather")
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("approve")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("1 operation approved")

    row = page.locator("#result_list tr", has_text="deleteCity")
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("disable")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("1 operation disabled")
    expect(page.locator("#result_list tr", has_text="getWeather")).to_contain_text("On")
    expect(page.locator("#result_list tr", has_text="deleteCity")).to_contain_text("Disabled")
    screenshot("02-reviewed")
    states = dict(Operation.objects.filter(action__gpt=gpt).values_list("operation_id", "enabled"))
    assert states == {"getWeather": True, "deleteCity": False}
    assert Operation.objects.get(operation_id="getWeather").review == "approved"
