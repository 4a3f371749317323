"""Chat pages: the editor's Preview (a conversation beside a debug pane) and /g/{gpt_id}/, where
the people a GPT is shared with talk to it without seeing its configuration.

The pages are server-rendered shells; static/chat/chat.js starts conversations through the JSON
API and runs each turn through `stream`, which sends the turn's events as server-sent events
while the model writes (a StreamingHttpResponse over the loop's event generator), so the answer
appears as it is written. The same services drive the JSON API, which answers at the end.
"""

from __future__ import annotations

import json
import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from actions.selectors import callable_actions
from chat import llm
from chat.models import Channel, Conversation
from chat.selectors import conversation_get_for_user, messages_by_id
from chat.serializers import TurnSerializer
from chat.services import consent_answer, conversation_resume, message_post
from gpts.selectors import gpt_access_for_member, gpt_get_for_chat
from kernel.errors import RuleViolation

logger = logging.getLogger(__name__)
MAX_STREAM_BODY = 64 * 1024


def _own_conversation(request: HttpRequest, gpt, channel: str) -> int | None:
    """The ?c= conversation when it is the user's, with this GPT, on this page; else none."""
    raw = request.GET.get("c", "")
    if not raw.isdigit():
        return None
    found = Conversation.objects.filter(
        pk=int(raw),
        user=request.user,
        gpt=gpt,
        channel=channel,  # type: ignore[misc]  # signed in
    ).values_list("pk", flat=True)
    return found.first()


def _page_context(request: HttpRequest, gpt, channel: str) -> dict:
    marker = 999999999  # replaced by the conversation's id in the script
    return {
        "gpt": gpt,
        "channel": channel,
        "conversation_id": _own_conversation(request, gpt, channel) or "",
        "resume": request.GET.get("resume") == "1",
        "starters": gpt.conversation_starters,
        "model_configured": llm.configured(),
        "create_url": reverse("api:conversation-create", args=[gpt.pk]),
        "conversation_url": reverse("api:conversation-detail", args=[marker]),
        "stream_url": reverse("chat:stream", args=[marker]),
        "marker": marker,
    }


@login_required
@require_GET
def preview(request: HttpRequest, gpt_id: int) -> HttpResponse:
    """/editor/gpts/{id}/preview: the builder talks to the GPT as a user would, and sees every
    call's request (secrets masked) and response in the debug pane."""
    access = gpt_access_for_member(gpt_id=gpt_id, user=request.user)
    gpt = access.obj
    context = _page_context(request, gpt, Channel.PREVIEW)
    context["actions"] = callable_actions(gpt=gpt)
    context["can_edit"] = access.can_edit
    return render(request, "chat/preview.html", context)


@login_required
@require_GET
def gpt_chat(request: HttpRequest, gpt_id: int) -> HttpResponse:
    """/g/{id}/: a chat with the GPT for the people its visibility allows."""
    gpt = gpt_get_for_chat(gpt_id=gpt_id, user=request.user)
    return render(request, "chat/chat.html", _page_context(request, gpt, Channel.CHAT))


def _frame(kind: str, data) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse(conversation: Conversation, events):
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                result = done.value
                break
            yield _frame(event.kind, event.data)
        messages = messages_by_id(conversation=conversation, ids=result["messages"])
        yield _frame("done", TurnSerializer({**result, "messages": messages}).data)
    except Exception:
        # The status line has gone already: the page is told in the stream.
        logger.exception("chat turn failed (conversation %s)", conversation.pk)
        yield _frame("failed", {"detail": "Something went wrong on our side. Try again."})
    finally:
        events.close()


def _error(exc: RuleViolation) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status)


@login_required
@require_POST
def stream(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    """POST /chat/conversations/{id}/stream with one of {"content"}, {"tool_call_id",
    "consent"} or {"resume": true}: the turn as server-sent events, ending with "done"."""
    conversation = conversation_get_for_user(conversation_id=conversation_id, user=request.user)
    if len(request.body) > MAX_STREAM_BODY:
        return _error(RuleViolation("request_too_large", "The message is too long.", status=413))
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(RuleViolation("invalid", "The request body must be a JSON object."))
    try:
        if "consent" in body:
            events = consent_answer(
                conversation=conversation,
                user=request.user,
                tool_call_id=body.get("tool_call_id"),
                consent=body.get("consent"),
                stream=True,
            )
        elif body.get("resume") is True:
            events = conversation_resume(conversation=conversation, user=request.user, stream=True)
        else:
            events = message_post(
                conversation=conversation,
                user=request.user,
                content=body.get("content"),
                stream=True,
            )
    except RuleViolation as exc:
        return _error(exc)
    response = StreamingHttpResponse(_sse(conversation, events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response
