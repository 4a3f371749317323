"""What the chat loop adds to one tool round, beyond the model's own time, measured side by side
with the bare provider call and the bare API call in the same run.

    .venv/bin/python bench/chat_overhead.py [--iterations 200] [--warmup 20]

A fake OpenAI-compatible provider (tests/chat/provider.py: answers at once, so its "thinking"
time is nothing but HTTP) and a small JSON endpoint (the action's API) run on 127.0.0.1. Each
iteration, in a rotating order:

  provider  one chat completion through the openai client           (the model call, bare)
  direct    requests.get() of the action's endpoint                  (the API call, bare)
  turn      chat.services.message_post + drain: a user message whose turn is one tool round:
            model → tool call → operation_run → tool message → model → answer
  api       the same turn through POST /api/v1/conversations/{id}/messages/ (DRF, session,
            the conversation lookup, the answer's serialisation)

A turn holds two model calls and one API call, so the platform's own share is
    turn − (2 × provider + direct)
printed as "added". The conversation grows by four messages a turn; the loop's query count does
not depend on it (tests/chat), and the numbers show the time does not either. A throwaway
database is created and dropped (PostgreSQL when DATABASE_URL says so, else SQLite in memory).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collected static

import django  # noqa: E402

django.setup()

# The baseline must be a plain requests call: that is the point of the comparison.
import requests  # noqa: E402, TID251
from django.conf import settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

REPLY = json.dumps({"location": "Paris", "temperature_c": 21.5, "conditions": "sunny"}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, format, *args):  # noqa: A002 - silence the access log
        return


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), statistics.fmean(ordered), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    options = parser.parse_args()
    for name in ("outbound.client", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from tests.chat.provider import FakeProvider

    provider = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.LLM_BASE_URL = provider.base_url
    settings.LLM_API_KEY = "bench-key"
    url = f"http://127.0.0.1:{port}/location?location=Paris"

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        from rest_framework.test import APIClient

        from actions.models import Consent
        from actions.runtime.tools import gpt_tools
        from actions.selectors import callable_actions
        from actions.services import action_create
        from bench.runtime_overhead import schema_for
        from chat import llm
        from chat.services import conversation_create, drain, message_post
        from tests.factories import add_member, make_gpt, make_workspace
        from workspaces.models import Plan, Role

        workspace = make_workspace("Bench", plan=Plan.ENTERPRISE)
        user = add_member(workspace, role=Role.OWNER)
        gpt = make_gpt(workspace, created_by=user, visibility="workspace", instructions="Bench.")
        action = action_create(gpt=gpt, acting_user=user, schema=schema_for(port))
        Consent.objects.create(
            user=user,
            gpt=gpt,
            action=action,
            workspace=workspace,
            operation_id="GetCurrentWeather",
        )
        script = provider.script
        conversation = conversation_create(gpt=gpt, user=user)
        messages_path = ""
        client = APIClient()
        client.force_login(user)
        context = [{"role": "system", "content": "Bench."}, {"role": "user", "content": "hi"}]
        # The bare call sends what a turn's model call sends: the GPT's tools too.
        tools = gpt_tools(actions=callable_actions(gpt=gpt))

        def bare_provider():
            script.text("Sunny in Paris.")
            reply = yield_all(
                llm.complete(model=gpt.model, messages=context, tools=tools, stream=False)
            )
            assert reply.content

        def direct():
            assert requests.get(url, timeout=45).status_code == 200

        def one_round():
            script.tool("GetCurrentWeather", {"location": "Paris"}).text("Sunny in Paris.")

        def turn():
            result = drain(
                conversation,
                message_post(conversation=conversation, user=user, content="Weather in Paris?"),
            )
            assert result["status"] == "done", result

        def api():
            response = client.post(messages_path, {"content": "Weather in Paris?"}, format="json")
            assert response.status_code == 200 and response.json()["status"] == "done"

        def fresh():
            # Each turn starts a new conversation (outside the timing): the model then reads
            # what the bare provider call reads, instruction and one message.
            nonlocal conversation, messages_path
            conversation = conversation_create(gpt=gpt, user=user)
            messages_path = (
                f"/api/v1/conversations/{conversation_create(gpt=gpt, user=user).pk}/messages/"
            )
            one_round()

        columns = {"provider": bare_provider, "direct": direct, "turn": turn, "api": api}
        samples: dict[str, list[float]] = {name: [] for name in columns}
        names = list(columns)
        for i in range(options.warmup + options.iterations):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                if name in ("turn", "api"):
                    fresh()
                started = time.perf_counter()
                columns[name]()
                elapsed = (time.perf_counter() - started) * 1000
                if i >= options.warmup:
                    samples[name].append(elapsed)
        # The same turn at the end of a long conversation: the model reads it all, so the bare
        # call grows too; the loop's own share should not.
        long_conversation = conversation_create(gpt=gpt, user=user)
        for _ in range(50):
            one_round()
            drain(
                long_conversation,
                message_post(
                    conversation=long_conversation, user=user, content="Weather in Paris?"
                ),
            )
        long_context = [{"role": "system", "content": "Bench."}] + [
            {"role": "user", "content": "Weather in Paris?"}
        ] * 200
        long_samples = {"provider": [], "turn": []}
        for _ in range(max(10, options.iterations // 10)):
            script.text("Sunny in Paris.")
            started = time.perf_counter()
            yield_all(
                llm.complete(model=gpt.model, messages=long_context, tools=tools, stream=False)
            )
            long_samples["provider"].append((time.perf_counter() - started) * 1000)
            one_round()
            started = time.perf_counter()
            drain(
                long_conversation,
                message_post(
                    conversation=long_conversation, user=user, content="Weather in Paris?"
                ),
            )
            long_samples["turn"].append((time.perf_counter() - started) * 1000)
        long_length = long_conversation.messages.count()
    finally:
        teardown_databases(old_config, verbosity=0)
        server.shutdown()
        provider.close()

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"{options.iterations} rounds per column after {options.warmup} warm-up rounds; "
        f"database {database}; Python {sys.version.split()[0]}; each turn in a new "
        "conversation"
    )
    print(f"{'column':<9}{'median ms':>11}{'mean ms':>10}{'p95 ms':>9}")
    for name in names:
        median, mean, p95 = summary(samples[name])
        print(f"{name:<9}{median:>11.3f}{mean:>10.3f}{p95:>9.3f}")
    base = 2 * statistics.median(samples["provider"]) + statistics.median(samples["direct"])
    turn_median = statistics.median(samples["turn"])
    api_median = statistics.median(samples["api"])
    print(
        f"\nBare parts of one tool round (2 model calls + 1 API call): {base:.2f} ms. "
        f"The loop adds {turn_median - base:.2f} ms (turn {turn_median:.2f} ms); through the "
        f"JSON API {api_median - base:.2f} ms (api {api_median:.2f} ms)."
    )
    long_base = 2 * statistics.median(long_samples["provider"]) + statistics.median(
        samples["direct"]
    )
    long_turn = statistics.median(long_samples["turn"])
    print(
        f"At the end of a {long_length}-message conversation: bare parts {long_base:.2f} ms "
        f"(the model reads ~200 messages), turn {long_turn:.2f} ms, the loop adds "
        f"{long_turn - long_base:.2f} ms."
    )


def yield_all(generator):
    """Run a chat.llm.complete generator to its Reply."""
    while True:
        try:
            next(generator)
        except StopIteration as done:
            return done.value


if __name__ == "__main__":
    main()
