"""A person runs an OAuth action in Chromium: Preview asks them to connect, they sign in at the
provider and approve, the call returns their to-dos, and they revoke the connection on
/me/connections/.

The platform is served as http://localhost:<port> and the sandbox provider as
http://127.0.0.1:<port> (the same live server under two names), so the browser holds no session
at the provider and really signs in there.
"""

import pytest
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from playwright.sync_api import expect

from actions.models import ConnectedAccount
from sandbox.models import Todo
from tests.actions.oauth_support import add_operations, sandbox_world
from tests.factories import PASSWORD

# Chromium, the loopback-only page and `screenshot` come from tests/browser/conftest.py.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, user) -> None:
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def run_approving(page) -> None:
    """Click Run; when the runtime first asks for approval, click Allow (as a person would)."""
    page.click("#run-button")
    approval = page.locator("#approval")
    settled = page.locator("#approval, #problem, #outcome").locator("visible=true")
    settled.first.wait_for(state="visible")
    if approval.is_visible():
        assert "Allow this request?" in approval.inner_text()
        page.click("#approval button[data-consent=allow]")
        page.locator("#problem, #outcome").locator("visible=true").first.wait_for()


def test_run_connect_approve_and_revoke(live_server, settings, page, screenshot):
    world = sandbox_world(live_server, settings, site_host="localhost", provider_host="127.0.0.1")
    add_operations(world)
    Todo.objects.create(owner=world.user, title="Water the plants")

    # Sign in to the platform and open the Preview of listTodos.
    page.goto(f"{world.site}/accounts/login/")
    sign_in(page, world.site, world.user)
    preview = f"{world.site}/editor/actions/{world.action.pk}/operations/listTodos/test"
    page.goto(preview)
    page.select_option("#arg-done", "false")  # typed before the connect round trip
    run_approving(page)

    # No connection yet: the runtime answers oauth_required and the page offers to connect.
    link = page.locator("#problem-link a")
    link.wait_for(state="visible")
    assert page.inner_text("#problem-title") == "Connect your account first"  # no raw code
    link.click()

    # At the provider (another host: no session there), sign in, then approve.
    page.wait_for_url(f"{world.provider}/accounts/login/**")
    sign_in(page, world.provider, world.user)
    page.wait_for_url(f"{world.provider}/o/authorize/**")
    assert "Sandbox to-dos" in page.content()
    screenshot("oauth_provider_consent")
    page.click("input[name=allow]")

    # Back on the Preview page where the user started, connected, with the arguments as they
    # were typed; the call resumes by itself and asks for approval again.
    page.wait_for_url(f"{preview}**")
    assert "is connected" in page.inner_text(".messages")
    account = ConnectedAccount.objects.get(user=world.user, action=world.action)
    assert account.scopes == "todos"
    assert page.input_value("#arg-done") == "false"
    page.locator("#approval").wait_for(state="visible")
    page.wait_for_url(lambda url: "resume" not in url)
    page.click("#approval button[data-consent=allow]")
    page.locator("#response-body").wait_for(state="visible")
    expect(page.locator("#response-body")).to_contain_text("Water the plants", timeout=15_000)
    assert "200" in page.inner_text("#response-status")
    assert account.access_token not in page.content()  # the token is masked
    screenshot("oauth_preview_result")

    # The connection is listed; revoke it, with a confirmation step.
    page.goto(f"{world.site}/me/connections/")
    row = page.locator(f"tr[data-connection='{account.pk}']")
    assert "To-do helper" in row.inner_text() and "todos" in row.inner_text()
    assert "Sandbox to-dos" in row.inner_text()  # the action, by its schema's title
    assert "Connected" in row.inner_text()
    screenshot("me_connections")
    row.get_by_role("link", name="Revoke").click()
    page.wait_for_url(f"{world.site}/me/connections/{account.pk}/revoke")
    assert "Revoke this connection?" in page.inner_text("h1")
    screenshot("me_connection_revoke")
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url(f"{world.site}/me/connections/")
    assert "is revoked" in page.inner_text(".messages")
    assert page.locator("tr[data-connection]").count() == 0
    screenshot("me_connections_revoked")

    # The provider saw the revocation: no live token of the grant is left there.
    assert not ConnectedAccount.objects.exists()
    assert not get_access_token_model().objects.filter(application=world.application).exists()
    assert (
        not get_refresh_token_model()
        .objects.filter(application=world.application, revoked=None)
        .exists()
    )
