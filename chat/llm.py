"""The model: any OpenAI-compatible Chat Completions endpoint, through the official client.

`LLM_BASE_URL`, `LLM_API_KEY` and the catalogue's provider model names (gpts.catalogue) say
where and what to call. The `openai` client is used as it comes (its own HTTP stack; the
platform's outbound guard is for URLs builders and users give, while this endpoint is the
operator's own setting). Retries are off by default (`LLM_MAX_RETRIES`): a person is waiting,
and the loop reports a failure in words instead of retrying blindly.

Every failure becomes a ModelError whose `detail` is a sentence for the person in the chat. The
API key never leaves this module: it is not logged, and any text that came from the provider is
masked with it before it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import openai
from django.conf import settings

from actions.runtime.auth import mask_text
from gpts.catalogue import provider_model


class ModelError(Exception):
    """The model could not answer; `detail` says why, for the person reading the chat."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass
class Reply:
    """What the model answered: text, tool calls (arguments as the raw text it sent), or both."""

    content: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)


def configured() -> bool:
    return bool(getattr(settings, "LLM_BASE_URL", ""))


@lru_cache(maxsize=4)
def _client(base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    # Local servers (vLLM, Ollama, the sandbox) want no key, but the client insists on one.
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries
    )


def client() -> openai.OpenAI:
    return _client(
        settings.LLM_BASE_URL,
        settings.LLM_API_KEY,
        float(settings.LLM_TIMEOUT),
        int(settings.LLM_MAX_RETRIES),
    )


def _masked(text: Any) -> str:
    key = getattr(settings, "LLM_API_KEY", "")
    return mask_text(str(text), [key] if key else [])[:300]


def _provider_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message", "")
    return _masked(body or "") if isinstance(body, str) else ""


def _failure(exc: Exception) -> ModelError:
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(
            "model_timeout",
            f"The model did not answer within {settings.LLM_TIMEOUT} seconds. Try again.",
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(
            "model_unreachable", "The model provider could not be reached. Try again later."
        )
    if isinstance(exc, openai.RateLimitError):
        retry = exc.response.headers.get("retry-after")
        return ModelError(
            "model_rate_limited",
            "The model provider is rate-limiting requests (HTTP 429)"
            + (
                f"; it asks to retry after {_masked(retry)} seconds."
                if retry
                else ". Try again in a moment."
            ),
        )
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code >= 500:
            return ModelError(
                "model_unavailable", f"The model provider failed (HTTP {code}). Try again later."
            )
        if code in (401, 403):
            return ModelError(
                "model_refused",
                f"The model provider refused the platform's credentials (HTTP {code}): an "
                "administrator must check LLM_API_KEY.",
            )
        detail = _provider_detail(exc)
        return ModelError(
            "model_refused",
            f"The model provider refused the request (HTTP {code})"
            + (f": {detail}" if detail else "."),
        )
    return ModelError(
        "model_garbage", "The model provider sent an answer that is not a chat completion."
    )


def _require(condition: bool) -> None:
    if not condition:
        raise ValueError("not a chat completion")


def _plain_reply(completion: Any) -> Reply:
    choices = getattr(completion, "choices", None)
    _require(isinstance(choices, list) and bool(choices))
    message = choices[0].message  # type: ignore[index]  # checked to be a non-empty list
    reply = Reply(content=message.content or "")
    for call in message.tool_calls or []:
        function: Any = getattr(call, "function", None)
        _require(function is not None and isinstance(function.name, str))
        reply.tool_calls.append(
            {"id": call.id or "", "name": function.name, "arguments": function.arguments or ""}
        )
    return reply


def complete(
    *, model: str, messages: list[dict], tools: list[dict], stream: bool
) -> Generator[str, None, Reply]:
    """Ask the model for its next message. A generator: with `stream`, it yields the text as
    it arrives; either way it returns the whole Reply (`reply = yield from complete(...)`).
    Raises ModelError for anything but a usable answer."""
    if not configured():
        raise ModelError(
            "model_not_configured",
            "No model is configured for this deployment: an administrator must set "
            "LLM_BASE_URL (and LLM_API_KEY).",
        )
    kwargs: dict[str, Any] = {"model": provider_model(model), "messages": messages}
    if tools:
        kwargs["tools"] = tools
    try:
        if not stream:
            return _plain_reply(client().chat.completions.create(**kwargs))
        reply = Reply()
        calls: dict[int, dict[str, str]] = {}
        chunks = client().chat.completions.create(**kwargs, stream=True)
        try:
            for chunk in chunks:
                for choice in getattr(chunk, "choices", None) or []:
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        reply.content += delta.content
                        yield delta.content
                    for piece in delta.tool_calls or []:
                        # A call arrives in pieces: id and name first, arguments in fragments.
                        call = calls.setdefault(
                            piece.index, {"id": "", "name": "", "arguments": ""}
                        )
                        call["id"] = piece.id or call["id"]
                        if piece.function is not None:
                            call["name"] += piece.function.name or ""
                            call["arguments"] += piece.function.arguments or ""
        finally:
            chunks.close()
        reply.tool_calls = [calls[index] for index in sorted(calls)]
        _require(all(call["name"] for call in reply.tool_calls))
        return reply
    except ModelError:
        raise
    except (
        openai.OpenAIError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        json.JSONDecodeError,
    ) as exc:
        raise _failure(exc) from None
