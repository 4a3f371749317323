"""A protocol-faithful OpenAI-compatible Chat Completions server on 127.0.0.1 for the chat tests.

It answers `POST /v1/chat/completions` from a script of replies, in order: a text, tool calls,
an HTTP error (429 with Retry-After, 500...), garbage, or silence (for the client's timeout).
With `"stream": true` it answers as the providers do: server-sent `chat.completion.chunk`
events, text in small pieces, each tool call's id and name first and its arguments split over
several chunks, then `data: [DONE]`. Every request body it received is kept in `requests`, the
Authorization header in `authorizations`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    def __init__(self) -> None:
        self.replies: deque = deque()
        self.requests: list[dict] = []
        self.authorizations: list[str] = []
        self.lock = threading.Lock()

    def text(self, content: str) -> Script:
        self.replies.append(("text", content))
        return self

    def tool(self, name: str, arguments, call_id: str | None = None) -> Script:
        return self.tools([(name, arguments, call_id)])

    def tools(self, calls) -> Script:
        self.replies.append(("tools", calls))
        return self

    def status(self, code: int, body: str = "", headers: dict | None = None) -> Script:
        self.replies.append(("status", (code, body, headers or {})))
        return self

    def garbage(self, body: str = "<html>not json</html>") -> Script:
        self.replies.append(("garbage", body))
        return self

    def sleep(self, seconds: float) -> Script:
        self.replies.append(("sleep", seconds))
        return self

    def next(self):
        with self.lock:
            return self.replies.popleft() if self.replies else ("text", "(no more replies)")


class FakeProvider:
    def __init__(self) -> None:
        self.script = Script()
        handler = _handler(self.script)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reset(self) -> Script:
        self.script.replies.clear()
        self.script.requests.clear()
        self.script.authorizations.clear()
        return self.script

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _completion_id(n: int) -> str:
    return f"chatcmpl-test-{n}"


def _calls(calls, n: int) -> list[dict]:
    out = []
    for index, (name, arguments, call_id) in enumerate(calls):
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        out.append({"id": call_id or f"call_{n}_{index}", "name": name, "arguments": text})
    return out


def _handler(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every reply (a real provider does not).
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: bytes, content_type: str, headers=None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with script.lock:
                script.requests.append(body)
                script.authorizations.append(self.headers.get("Authorization", ""))
                n = len(script.requests)
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
                return
            kind, value = script.next()
            if kind == "sleep":
                time.sleep(value)
                kind, value = "text", "late"
            if kind == "status":
                code, text, headers = value
                payload = text or json.dumps({"error": {"message": f"error {code}"}})
                self._send(code, payload.encode(), "application/json", headers)
                return
            if kind == "garbage":
                self._send(200, value.encode(), "application/json")
                return
            content = value if kind == "text" else None
            calls = _calls(value, n) if kind == "tools" else []
            if body.get("stream"):
                self._stream(n, content, calls, body.get("model", ""))
            else:
                self._plain(n, content, calls, body.get("model", ""))

        def _plain(self, n, content, calls, model):
            message = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ]
            reply = {
                "id": _completion_id(n),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            self._send(200, json.dumps(reply).encode(), "application/json")

        def _stream(self, n, content, calls, model):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            base = {
                "id": _completion_id(n),
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
            }

            def chunk(delta, finish=None):
                data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            chunk({"role": "assistant", "content": ""})
            if content:
                for start in range(0, len(content), 4):
                    chunk({"content": content[start : start + 4]})
            for index, call in enumerate(calls):
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": ""},
                            }
                        ]
                    }
                )
                arguments = call["arguments"]
                for start in range(0, len(arguments), 3):
                    piece = arguments[start : start + 3]
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            chunk({}, "tool_calls" if calls else "stop")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler
