"""The editor's chat Preview in Chromium, with the sandbox's demo model: a conversation starter
asks the To-do helper for the list, the approval appears inline, the call needs an account, the
"Sign in to <domain>" card goes to the provider and back, the call resumes and the answer
streams in; the debug pane shows the request (token masked) and the response. Then the same GPT
on its chat page, /g/{id}/, at a phone's width.

As in test_oauth_flow.py the platform is http://localhost:<port> and the provider
http://127.0.0.1:<port> (one live server, two names), so the browser really signs in there.
"""

import pytest
from playwright.sync_api import expect

from actions.models import ConnectedAccount, Invocation
from sandbox.models import Todo
from tests.actions.oauth_support import add_operations, sandbox_world
from tests.browser.test_oauth_flow import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chat_preview_with_approval_and_oauth_connect(live_server, settings, page, screenshot):
    world = sandbox_world(live_server, settings, site_host="localhost", provider_host="127.0.0.1")
    add_operations(world)
    world.gpt.instructions = "Use listTodos, createTodo and updateTodo to manage the list."
    world.gpt.conversation_starters = ["List my to-dos", "Add a to-do: water the plants"]
    world.gpt.save()
    settings.LLM_BASE_URL = f"http://127.0.0.1:{world.port}/sandbox/llm/v1"
    settings.LLM_API_KEY = ""
    Todo.objects.create(owner=world.user, title="Water the plants")

    page.goto(f"{world.site}/accounts/login/")
    sign_in(page, world.site, world.user)
    preview = f"{world.site}/editor/gpts/{world.gpt.pk}/preview"
    page.goto(preview)
    assert page.locator(".starter").count() == 2
    screenshot("01-preview-empty")
    screenshot("01-preview-empty-phone", width=390)

    # A starter sends the message; the model asks for listTodos and the approval shows inline.
    page.get_by_role("button", name="List my to-dos").click()
    approval = page.locator(".card.approval")
    approval.wait_for(state="visible")
    assert "wants to send a request to 127.0.0.1" in approval.inner_text()
    assert "GET http://127.0.0.1:" in approval.inner_text()
    assert approval.locator("button[data-consent=always_allow]").is_visible()
    screenshot("02-preview-approval")
    approval.locator("button[data-consent=allow]").click()

    # No account yet: "Sign in to 127.0.0.1" instead of an error.
    signin = page.locator("#signin-link")
    signin.wait_for(state="visible")
    assert "Sign in to 127.0.0.1" in page.inner_text(".card.signin")
    screenshot("03-preview-signin")
    screenshot("03-preview-signin-phone", width=390)
    signin.click()

    page.wait_for_url(f"{world.provider}/accounts/login/**")
    sign_in(page, world.provider, world.user)
    page.wait_for_url(f"{world.provider}/o/authorize/**")
    page.click("input[name=allow]")

    # Back in the same conversation; the call resumes and the answer streams in.
    page.wait_for_url(f"{preview}?c=*")
    # Locator assertions, not wait_for_function: the page's CSP forbids string evaluation.
    expect(page.locator("#chat-log")).to_contain_text("Water the plants", timeout=15_000)
    account = ConnectedAccount.objects.get(user=world.user, action=world.action)
    assert "Called listTodos · done" in page.inner_text("#chat-log")

    # The debug pane: the request sent with the token masked, and the response.
    call = page.locator(".debug-call details").first
    call.locator("summary").click()
    request_text = call.locator(".debug-request").inner_text()
    assert request_text.startswith("GET http://127.0.0.1:")
    assert "Authorization: Bearer" in request_text
    assert account.access_token not in page.content()
    assert "HTTP 200" in call.locator(".debug-response").inner_text()
    screenshot("04-preview-answer")
    screenshot("04-preview-answer-phone", width=390)
    assert Invocation.objects.filter(channel="preview", status="ok").count() == 1

    # The GPT's own chat page: no configuration, the same conversation machinery.
    page.goto(f"{world.site}/g/{world.gpt.pk}/")
    assert "Instructions" not in page.content()
    page.fill("#chat-input", "list my to-dos")
    page.click("#send-button")
    page.locator(".card.approval").wait_for(state="visible")
    page.locator(".card.approval button[data-consent=always_allow]").click()
    expect(page.locator(".msg-assistant").first).to_be_visible(timeout=15_000)
    expect(page.locator("#chat-log")).to_contain_text("Water the plants", timeout=15_000)
    assert page.locator("#debug-calls").count() == 0  # no debug pane for users
    screenshot("05-chat-page")
    screenshot("05-chat-page-phone", width=390)
    assert Invocation.objects.filter(channel="chat", status="ok").count() == 1
