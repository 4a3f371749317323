"""Issue 16 in Debian's Chromium: the operation picker on a real 2.7 MB document (PagerDuty),
a Fix button, Swagger 2.0 converted on paste, and a failed import on a new action that leaves
nothing behind. Screenshots at 1280 and 390 px go to tests/browser/screenshots/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from actions.models import Action, SchemaImport
from tests.browser.test_editor_flow import log_in
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import AuditEvent, AuditKind, Plan, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"

FIXABLE = """openapi: 3.0.3
info:
  title: Things
  version: "1"
servers:
  - url: https://api.things.example.com
paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - name: limit
          in: query
          constant: 5
          schema:
            type: integer
      responses:
        "200":
          description: ok
"""


@pytest.fixture
def gpt(db):
    workspace = make_workspace("Acme", plan=Plan.ENTERPRISE)
    builder = add_member(workspace, role=Role.BUILDER, username="bea")
    return make_gpt(workspace, created_by=builder, name="Ops helper")


def paste(page, text: str) -> None:
    """What a paste does to the textarea: new text and an input event (Playwright's `fill`
    types a 2.7 MB document too slowly)."""
    page.locator("#id_schema").evaluate(
        "(el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); }",
        text,
    )


def test_picker_keeps_up_to_30_of_a_big_document(page, site, gpt, screenshot):
    text = (CORPUS / "PagerDuty-api-schema__REST.json").read_text(encoding="utf-8")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    paste(page, text)
    picker = page.locator("#picker")
    expect(picker).to_be_visible(timeout=30_000)
    expect(page.locator("#picker-total")).to_have_text("465")
    screenshot("01-picker")

    page.get_by_label("Method", exact=True).select_option("GET")
    page.get_by_label("Search", exact=True).fill("incident")
    boxes = page.locator("#picker-list input[type=checkbox]")
    expect(boxes.first).to_be_visible()
    chosen = [boxes.nth(n).get_attribute("value") for n in range(3)]
    for n in range(3):
        boxes.nth(n).check()
    expect(page.locator("#picker-count")).to_contain_text("3 of 30 selected")
    screenshot("02-picker-chosen-390", width=390)
    screenshot("02-picker-chosen")

    page.get_by_role("button", name="Keep selected operations").click()
    expect(page.locator("#schema-notice")).to_contain_text("Kept 3 operations")
    expect(page.locator("#schema-status")).to_contain_text("Valid — 3 actions", timeout=30_000)
    expect(picker).to_be_hidden()
    kept = page.locator("#id_schema").input_value()
    assert len(kept) < len(text) / 10
    names = page.locator("#ops-body .op-name").all_text_contents()
    assert sorted(names) == sorted(chosen)
    screenshot("03-kept")
    screenshot("03-kept-390", width=390)

    # Undo puts the whole document back; the picker returns, with its filters.
    page.locator("#notice-undo").click()
    expect(picker).to_be_visible(timeout=30_000)
    assert page.locator("#id_schema").input_value() == text
    for n in range(3):
        boxes.nth(n).check()
    page.get_by_role("button", name="Keep selected operations").click()
    expect(page.locator("#schema-status")).to_contain_text("Valid — 3 actions", timeout=30_000)
    assert page.locator("#id_schema").input_value() == kept

    page.get_by_role("button", name="Save").first.click()
    expect(page).to_have_url(re.compile(r"/editor/actions/\d+/$"), timeout=30_000)
    action = Action.objects.get(gpt=gpt)
    assert sorted(action.operations.values_list("operation_id", flat=True)) == sorted(chosen)
    assert action.domain == "api.pagerduty.com"


def test_fix_button_applies_and_undoes(page, site, gpt, screenshot):
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    paste(page, FIXABLE)
    warning = page.locator("#warning-list li.has-fix")
    expect(warning).to_contain_text("'constant' is not a field of a parameter")
    expect(warning).to_contain_text("Line 14")  # the key's own line
    expect(page.locator("#schema-status")).to_contain_text("Valid — 1 action")
    screenshot("01-warning-with-fix")
    screenshot("01-warning-with-fix-390", width=390)
    warning.get_by_role("button", name="Fix: Remove 'constant'").click()
    expect(page.locator("#warning-block")).to_be_hidden()
    fixed = page.locator("#id_schema").input_value()
    assert "constant" not in fixed and fixed == FIXABLE.replace("          constant: 5\n", "")
    expect(page.locator("#schema-notice")).to_contain_text("Applied: Remove 'constant'.")
    screenshot("02-fixed")
    # The textarea's own undo takes the fix back.
    page.locator("#id_schema").press("Control+z")
    expect(page.locator("#warning-list li.has-fix")).to_be_visible()
    assert page.locator("#id_schema").input_value() == FIXABLE


def test_swagger_2_is_converted_on_paste(page, site, gpt, screenshot):
    text = (CORPUS / "OAI-OpenAPI-Specification__v2.0-petstore.json").read_text(encoding="utf-8")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    paste(page, text)
    expect(page.locator("#schema-notice")).to_contain_text("converted to OpenAPI 3.0")
    converted = json.loads(page.locator("#id_schema").input_value())
    assert converted["openapi"] == "3.0.3"
    # Its only error is the product's https rule (the source uses plain http).
    expect(page.locator("#error-list")).to_contain_text("must use https")
    screenshot("01-converted")
    screenshot("01-converted-390", width=390)
    page.locator("#notice-undo").click()
    assert json.loads(page.locator("#id_schema").input_value())["swagger"] == "2.0"
    # Undone: not converted again behind the builder's back.
    page.wait_for_timeout(1200)
    assert json.loads(page.locator("#id_schema").input_value())["swagger"] == "2.0"


def test_failed_import_on_a_new_action_leaves_nothing(page, site, gpt, httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    httpserver.expect_request("/missing.json").respond_with_data("nope", status=404)
    url = f"http://127.0.0.1:{httpserver.port}/missing.json"
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    for _ in range(3):
        page.get_by_role("button", name="Import from URL").click() if page.locator(
            "#import-panel"
        ).is_hidden() else None
        page.locator("#import-url").fill(url)
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.locator("#import-status")).to_contain_text("failed", timeout=30_000)
        expect(page).to_have_url(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    assert not Action.objects.filter(gpt=gpt).exists()
    # Three jobs ran and failed, none of them with an action, not even one made and removed.
    jobs = SchemaImport.objects.filter(gpt=gpt)
    assert [(j.status, j.action_id) for j in jobs] == [("failed", None)] * 3
    assert not AuditEvent.objects.filter(kind=AuditKind.ACTION_DELETED).exists()
    # And saving an empty action is refused.
    page.locator("#id_schema").fill("")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("#id_schema-error")).to_contain_text("Add a schema before saving")
    assert not Action.objects.filter(gpt=gpt).exists()


def test_format_of_commented_yaml_says_so_and_undoes(page, site, gpt, screenshot):
    text = FIXABLE.replace("paths:\n", "# Our public API\npaths:\n")
    log_in(page, site, "bea")
    page.goto(f"{site}/editor/gpts/{gpt.pk}/actions/new")
    paste(page, text)
    expect(page.locator("#schema-status")).to_contain_text("Valid — 1 action")
    page.get_by_role("button", name="Format").click()
    expect(page.locator("#schema-notice")).to_contain_text("YAML comments are not kept")
    assert "# Our public API" not in page.locator("#id_schema").input_value()
    screenshot("01-formatted")
    page.locator("#notice-undo").click()
    assert page.locator("#id_schema").input_value() == text
