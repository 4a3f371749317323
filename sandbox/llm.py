"""A small deterministic OpenAI-compatible chat model, so the chat loop runs offline.

`POST /sandbox/llm/v1/chat/completions` speaks the Chat Completions protocol (plain JSON, or
server-sent chunks with `stream: true`, a tool call's arguments split across chunks as real
providers send them). It does not think; it matches:

- last message from the user: the tool whose name and description share the most words with the
  message is called, its required arguments filled from the message (a number for integers, a
  quoted text or the words after "in"/"for"/":" for strings, true/false for booleans); no tool
  fits → it says so, naming what it can do;
- last message a tool result: it summarises the result (a list's items, an object's fields, an
  error in words).

It is the default model when DEBUG is on and LLM_BASE_URL is unset (config/settings.py), so
`make run` shows the whole loop; tests drive it through the real `openai` client as well.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

MODEL_NAME = "sandbox-demo"
MAX_BODY_BYTES = 2 * 1024 * 1024
STOPWORDS = frozenset(
    "a an and are be can do for from i in is it me my of on or please show the to what with "
    "you your all any".split()
)
CHUNK = 12  # characters of text (or arguments) per streamed chunk


def _words(text: str) -> set[str]:
    """Lowercase words, camelCase and snake_case split, hyphenated words also joined, plural
    "s" dropped: "list my to-dos" and "listTodos" share "list" and "todo"."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    lowered = text.lower()
    raw = re.findall(r"[a-z0-9]+", lowered) + [
        w.replace("-", "") for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", lowered)
    ]
    out = set()
    for word in raw:
        word = word[:-1] if len(word) > 3 and word.endswith("s") else word
        if word and word not in STOPWORDS:
            out.add(word)
    return out


def _choose_tool(text: str, tools: list[dict]) -> dict | None:
    wanted = _words(text)
    best, best_score = None, 0
    for tool in tools:
        function = tool.get("function") or {}
        name_words = _words(function.get("name", ""))
        score = 2 * len(wanted & name_words) + len(wanted & _words(function.get("description", "")))
        if score > best_score:
            best, best_score = function, score
    return best


def _string_value(text: str) -> str:
    quoted = re.search(r"[\"“']([^\"”']+)[\"”']", text)
    if quoted:
        return quoted.group(1).strip()
    if ":" in text:
        return text.split(":", 1)[1].strip().rstrip("?.!")
    place = re.search(r"\b(?:in|for|at|about|called|named)\s+(.+)$", text, re.IGNORECASE)
    if place:
        return place.group(1).strip().rstrip("?.!")
    return text.strip()


def _value(schema: dict, text: str):
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        lowered = text.lower()
        return next((v for v in schema["enum"] if str(v).lower() in lowered), schema["enum"][0])
    if kind in ("integer", "number"):
        number = re.search(r"-?\d+(?:\.\d+)?", text)
        value = float(number.group()) if number else 1
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return not re.search(r"\b(no|not|false|open|undone)\b", text, re.IGNORECASE)
    if kind == "object":
        return _fill(schema, text)
    if kind == "array":
        return []
    return _string_value(text)


def _fill(schema: dict, text: str) -> dict:
    properties = schema.get("properties") or {}
    return {
        name: _value(properties.get(name) or {}, text)
        for name in schema.get("required") or []
        if isinstance(name, str)
    }


def _summary(content: str) -> str:
    try:
        result = json.loads(content)
    except ValueError:
        return f"I could not complete that: {content}"
    if not isinstance(result, dict):
        return f"The call returned: {content[:500]}"
    status, body = result.get("status"), result.get("body", "")
    try:
        data = json.loads(body) if isinstance(body, str) and body else body
    except ValueError:
        data = body
    if isinstance(status, int) and status >= 400:
        return f"The API answered {status}: {str(body)[:300]}"
    if isinstance(data, dict):
        items = next((v for v in data.values() if isinstance(v, list)), None)
        if items is not None:
            if not items:
                return "There is nothing there yet."
            lines = [
                "- " + str(item.get("title") or item.get("name") or item)
                if isinstance(item, dict)
                else f"- {item}"
                for item in items[:20]
            ]
            return f"Here is what I found ({len(items)}):\n" + "\n".join(lines)
        fields = ", ".join(f"{k}: {v}" for k, v in list(data.items())[:8])
        return f"The API answered: {fields}"
    return f"The call returned: {str(data)[:500]}"


def _reply(messages: list[dict], tools: list[dict]) -> dict:
    """The next assistant message: {"content": ...} or {"tool_call": {...}}."""
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"content": _summary(str(last.get("content", "")))}
    text = str(last.get("content") or "")
    tool = _choose_tool(text, tools)
    if tool is None:
        names = ", ".join(t.get("function", {}).get("name", "") for t in tools)
        return {
            "content": f"(sandbox demo model) I can call: {names}. Ask for one of them."
            if names
            else f"(sandbox demo model) You said: {text[:500]}"
        }
    arguments = _fill(tool.get("parameters") or {}, text)
    return {"tool_call": {"name": tool["name"], "arguments": json.dumps(arguments)}}


def _call_id(messages: list[dict]) -> str:
    return f"call_demo_{len(messages)}"


def _completion(reply: dict, messages: list[dict]) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    finish = "stop"
    if "tool_call" in reply:
        message["tool_calls"] = [
            {"id": _call_id(messages), "type": "function", "function": reply["tool_call"]}
        ]
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-demo-{len(messages)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunks(reply: dict, messages: list[dict]):
    base = {
        "id": f"chatcmpl-demo-{len(messages)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_NAME,
    }

    def chunk(delta: dict, finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    if "tool_call" in reply:
        call = reply["tool_call"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": _call_id(messages),
                        "type": "function",
                        "function": {"name": call["name"], "arguments": ""},
                    }
                ]
            }
        )
        arguments = call["arguments"]
        for start in range(0, len(arguments), CHUNK):
            piece = arguments[start : start + CHUNK]
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls")
    else:
        content = reply["content"]
        for start in range(0, len(content), CHUNK):
            yield chunk({"content": content[start : start + CHUNK]})
        yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status=status,
    )


@csrf_exempt
@require_POST
def chat_completions(request: HttpRequest) -> HttpResponseBase:
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, "The request is too large.")
    try:
        body = json.loads(request.body)
    except ValueError:
        return _error(400, "The body must be JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _error(400, "messages is required.")
    messages = [m for m in body["messages"] if isinstance(m, dict)]
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    reply = _reply(messages, tools)
    if body.get("stream") is True:
        response = StreamingHttpResponse(_chunks(reply, messages), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        return response
    return JsonResponse(_completion(reply, messages))
