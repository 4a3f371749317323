"""A builder's whole session in the editor, in Debian's Chromium: log in, create a GPT, add an
action from the Pet Store example, break the schema and see the error with its line, fix it,
save, import a schema from a URL on 127.0.0.1 and watch it complete, set API-key auth, save.
Each step leaves a screenshot in tests/browser/screenshots/."""

import json
import re

import pytest
from playwright.sync_api import expect

from actions.models import Action, SchemaImport
from gpts.models import GPT
from tests.api.conftest import WEATHER
from tests.factories import PASSWORD, add_member, make_workspace
from workspaces.models import Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API_KEY = "sk-browser-test-key-7Qz9"


@pytest.fixture
def builder(db):
    workspace = make_workspace("Acme", plan=Plan.ENTERPRISE)
    make_workspace("Globex", plan=Plan.TEAM)  # a second tenant, present and never shown
    return add_member(workspace, role=Role.BUILDER, username="bea")


@pytest.fixture
def served_schema(httpserver, settings):
    """An OpenAPI document served on 127.0.0.1, which imports are allowed to reach."""
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    document = json.loads(json.dumps(WEATHER))
    document["info"]["title"] = "Imported weather"
    httpserver.expect_request("/openapi.json").respond_with_data(
        json.dumps(document), content_type="application/json"
    )
    return httpserver.url_for("/openapi.json").replace("://localhost", "://127.0.0.1")


def log_in(page, site, username):
    page.goto(f"{site}/accounts/login/?next=/editor/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}/editor/")


def caret_line(page) -> int:
    """The 1-based line of the schema textarea's caret."""
    return page.locator("#id_schema").evaluate(
        "el => el.value.slice(0, el.selectionStart).split('\\n').length"
    )


def test_builder_session(page, site, builder, served_schema, screenshot):
    log_in(page, site, "bea")
    screenshot("01-gpt-list-empty")

    # Create a GPT.
    page.get_by_role("link", name="Create a GPT").click()
    page.get_by_label("Name", exact=True).fill("Pet helper")
    page.get_by_label("Description").fill("Finds pets for you")
    page.get_by_label("Instructions").fill("Answer with the pet's name first.")
    page.get_by_role("button", name="Create").first.click()
    expect(page).to_have_url(re.compile(r"/editor/gpts/\d+/$"))
    expect(page.get_by_role("status").first).to_contain_text("Created Pet helper")
    gpt = GPT.objects.get(name="Pet helper")
    assert gpt.created_by == builder
    screenshot("02-gpt-page")

    # Create new action: nothing saved yet, the operations area waits for a schema.
    page.get_by_role("link", name="Create new action").click()
    expect(page).to_have_url(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    expect(page.get_by_text("Operations in your schema will show here")).to_be_visible()
    assert not Action.objects.exists()
    screenshot("03-new-action")

    # Examples → Pet Store: live validation finds its three operations.
    page.get_by_role("button", name="Examples").click()
    expect(page.get_by_role("button", name="Weather (JSON)")).to_be_focused()
    screenshot("04a-examples-menu")
    page.get_by_role("button", name="Pet Store (YAML)").click()
    status = page.locator("#schema-status")
    expect(status).to_have_text("Valid — 3 actions")
    table = page.locator("#ops-table")
    for operation_id in ("listPets", "createPets", "showPetById"):
        expect(table).to_contain_text(operation_id)
    screenshot("04-pet-store")

    # Break the schema: an operationId that breaks the naming rule, on a known line.
    schema = page.locator("#id_schema")
    good = schema.input_value()
    lines = good.split("\n")
    bad_line = next(i for i, line in enumerate(lines, 1) if "operationId: showPetById" in line)
    lines[bad_line - 1] = lines[bad_line - 1].replace("showPetById", "show pet by id")
    schema.fill("\n".join(lines))
    expect(status).to_contain_text("error")
    error = page.locator(f'#error-list button.problem[data-line="{bad_line}"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"Line {bad_line}")
    expect(page.locator("#ops-empty")).to_be_visible()
    screenshot("05-schema-error")

    # The error is a button: Enter on it puts the caret on its line in the schema.
    error.focus()
    page.keyboard.press("Enter")
    expect(schema).to_be_focused()
    assert caret_line(page) == bad_line

    # Fix it and save: the first save creates the action.
    schema.fill(good)
    expect(status).to_have_text("Valid — 3 actions")
    expect(page.locator("#error-block")).to_be_hidden()
    page.get_by_role("button", name="Save").first.click()
    expect(page).to_have_url(re.compile(r"/editor/actions/\d+/$"))
    expect(page.get_by_role("status").first).to_contain_text("Action saved.")
    action = Action.objects.get()
    assert set(action.operations.values_list("operation_id", flat=True)) == {
        "listPets",
        "createPets",
        "showPetById",
    }
    test_link = page.get_by_role("link", name="Test listPets")
    expect(test_link).to_have_attribute(
        "href", f"/editor/actions/{action.pk}/operations/listPets/test"
    )
    screenshot("06-saved")

    # Import from URL, served on 127.0.0.1: the progress box reports until it completes.
    page.get_by_role("button", name="Import from URL").click()
    page.get_by_label("URL of an OpenAPI document").fill(served_schema)
    # Over an existing schema the page asks first (issue 16); the builder agrees.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Import", exact=True).click()
    progress = page.locator("#import-status")
    expect(progress).to_be_visible()
    assert asked and "Replace the current schema" in asked[0]
    expect(progress).to_have_attribute("role", "status")
    expect(progress).to_contain_text("Imported", timeout=30_000)
    expect(schema).to_have_value(re.compile("Imported weather"))
    expect(status).to_have_text("Valid — 1 action")
    expect(page.get_by_role("link", name="Test GetCurrentWeather")).to_be_visible()
    action.refresh_from_db()
    assert action.domain == "weather.example.com" and "Imported weather" in action.schema
    screenshot("07-imported")

    # The served document is one long JSON line: Format re-indents it with 2 spaces.
    page.get_by_role("button", name="Format").click()
    expect(schema).to_have_value(re.compile(r'^\{\n  "openapi": "3\.1\.0"'))
    expect(status).to_have_text("Valid — 1 action")

    # API-key authentication, custom header; then save.
    page.get_by_role("radio", name="API key").check()
    page.locator("#id_api_key").fill(API_KEY)
    page.get_by_role("radio", name="Custom header").check()
    page.get_by_label("Custom header name").fill("X-Api-Key")
    screenshot("08-api-key")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status").first).to_contain_text("Action saved.")
    action.refresh_from_db()
    assert (action.auth_type, action.api_key_auth_type, action.custom_header) == (
        "api_key",
        "custom",
        "X-Api-Key",
    )
    assert action.api_key == API_KEY
    assert action.schema.startswith('{\n  "openapi"')  # the formatted text was saved
    # Write-only: the page shows the masked hint, never the key, and an empty input.
    assert API_KEY not in page.content()
    expect(page.locator("#id_api_key")).to_have_value("")
    expect(page.locator("#id_api_key-help")).to_contain_text("…7Qz9")
    screenshot("09-saved-with-api-key")

    # The two pages at a desktop's and a phone's width.
    screenshot("10-action-page-390", width=390)
    page.goto(f"{site}/editor/gpts/{gpt.pk}/")
    expect(page.get_by_role("link", name="weather.example.com")).to_be_visible()
    screenshot("11-gpt-page-1280")
    screenshot("12-gpt-page-390", width=390)
    page.get_by_role("link", name="GPTs").click()
    expect(page.locator(".gpt-card")).to_contain_text("1 action")
    screenshot("13-gpt-list-390", width=390)


def test_oauth_fields_and_callback_url(page, site, builder, screenshot):
    """The OAuth section shows every field and the callback URL to copy."""
    from tests.factories import make_gpt

    gpt = make_gpt(builder.memberships.get().workspace, created_by=builder, name="OAuth GPT")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    expect(page.get_by_label("Client ID")).to_be_hidden()
    page.get_by_role("radio", name="OAuth").check()
    for label in ("Client ID", "Client secret", "Authorization URL", "Token URL", "Scope"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.get_by_label("POST request body (default)")).to_be_checked()
    expect(page.get_by_label("HTTP Basic authorization header")).to_be_visible()
    callback = page.get_by_label("Callback URL")
    expect(callback).to_have_value(re.compile(rf"/aip/{gpt.pk}/oauth/callback$"))
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    screenshot("oauth-1280")
    screenshot("oauth-390", width=390)


def test_import_into_a_new_action(page, site, builder, served_schema, httpserver, screenshot):
    """On a page not saved yet, the import's job creates the action when the import succeeds,
    and the page then edits it; a failed import says why and creates nothing."""
    from tests.factories import make_gpt

    httpserver.expect_request("/missing.json").respond_with_data("nope", status=404)
    gpt = make_gpt(builder.memberships.get().workspace, created_by=builder, name="Importer")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    page.get_by_role("button", name="Import from URL").click()
    url_input = page.get_by_label("URL of an OpenAPI document")
    url_input.fill(served_schema.replace("/openapi.json", "/missing.json"))
    url_input.press("Enter")  # Enter imports; it does not submit the page's form
    progress = page.locator("#import-status")
    expect(progress).to_contain_text("Import failed", timeout=30_000)
    expect(progress).to_contain_text("404")
    # No action was ever made for the failed import (issue 16), not even for a moment.
    expect(page).to_have_url(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    assert not Action.objects.exists()
    assert SchemaImport.objects.get(gpt=gpt).action is None
    screenshot("import-failed")

    url_input.fill(served_schema)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(progress).to_contain_text("Imported", timeout=30_000)
    expect(page.locator("#schema-status")).to_have_text("Valid — 1 action")
    action = Action.objects.get()
    expect(page).to_have_url(f"{site}/editor/actions/{action.pk}/")
    assert action.domain == "weather.example.com"
    assert Action.objects.count() == 1
    assert SchemaImport.objects.filter(gpt=gpt, action=action).count() == 1
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text("weather.example.com")
    screenshot("import-succeeded")
    # The page now edits the new action: its Save updates it, no second action appears.
    page.get_by_role("button", name="Save").first.click()
    expect(page).to_have_url(f"{site}/editor/actions/{action.pk}/")
    assert Action.objects.count() == 1
