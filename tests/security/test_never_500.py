"""Bad input outside the JSON API is a 4xx with a readable answer, never a 500 (issue 12.5),
tried as someone poking at the pages would: NUL and lone surrogates in forms, query strings and
paths, absurd numbers in `?page=`/`?limit=`/`?offset=`, a URL import whose server hangs or hangs
up while no task queue is configured, and bodies at and over the documented size limit.
"""

import html
import json
import socket
import threading

import pytest
from django.test import Client
from django.test.client import encode_multipart

from actions.models import ImportStatus, SchemaImport
from tests.factories import PASSWORD, make_user
from tests.security.conftest import action_schema

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


def quiet_client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def owner(world):
    client = quiet_client()
    client.force_login(world.a.owner)
    return client


def multipart_utf7(fields: dict) -> tuple[bytes, str]:
    """A form whose declared charset (UTF-7) lets a lone surrogate through Django's decoding:
    `+2AA-` is U+D800."""
    return (
        encode_multipart("BoUnDaRy", fields),
        "multipart/form-data; boundary=BoUnDaRy; charset=utf-7",
    )


def assert_readable_refusal(response, status=400):
    assert response.status_code == status, response.content[:300]
    assert b"Traceback" not in response.content


# NUL and lone surrogates ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "description", "instructions"])
def test_nul_in_the_gpt_form_is_refused_and_nothing_changes(world, owner, field):
    before = (world.a.gpt.name, world.a.gpt.description, world.a.gpt.instructions)
    data = {"name": "Renamed", "description": "d", "instructions": "i", field: "bad\x00value"}
    response = owner.post(f"/editor/gpts/{world.a.gpt.pk}/", data)
    assert_readable_refusal(response)
    text = html.unescape(response.content.decode())
    assert f"{field!r}" in text and "NUL" in text
    world.a.gpt.refresh_from_db()
    assert (world.a.gpt.name, world.a.gpt.description, world.a.gpt.instructions) == before


def test_a_lone_surrogate_in_the_gpt_form_is_refused(world, owner):
    body, content_type = multipart_utf7({"name": "+2AA-", "description": "x"})
    response = owner.generic("POST", f"/editor/gpts/{world.a.gpt.pk}/", body, content_type)
    assert_readable_refusal(response)
    assert "surrogate" in response.content.decode()
    world.a.gpt.refresh_from_db()
    assert world.a.gpt.name == "Acme helper"


@pytest.mark.parametrize("field", ["schema", "privacy_policy_url", "custom_header", "api_key"])
def test_nul_and_surrogates_in_the_action_form_are_refused(world, owner, field):
    schema = world.a.action.schema
    page = f"/editor/actions/{world.a.action.pk}/"
    response = owner.post(page, {"schema": schema, field: "\x00"})
    assert_readable_refusal(response)
    body, content_type = multipart_utf7({"schema": schema, field: "a+2AA-b"})
    response = owner.generic("POST", page, body, content_type)
    assert_readable_refusal(response)
    world.a.action.refresh_from_db()
    assert world.a.action.schema == schema


def test_new_gpt_form_with_nul(world, owner):
    response = owner.post(
        "/editor/gpts/new", {"workspace": world.a.workspace.slug, "name": "x\x00"}
    )
    assert_readable_refusal(response)


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "gina\x00", "password": "x"},
        {"username": "gina", "password": "pass\x00"},
        {"username": "gina", "password": "x", "next": "/editor/\x00"},
    ],
)
def test_nul_in_the_login_form(fields):
    make_user("gina")
    assert_readable_refusal(quiet_client().post("/accounts/login/", fields))


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_lone_surrogate_in_the_login_form(field):
    make_user("gina")
    fields = {"username": "gina", "password": PASSWORD, field: "gi+2AA-na"}
    body, content_type = multipart_utf7(fields)
    for path in ("/accounts/login/", "/admin/login/"):
        response = quiet_client().generic("POST", path, body, content_type)
        assert_readable_refusal(response)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/?next=/editor/%00",
        "/admin/login/?next=/admin/%00",
        "/editor/?page=1%00",
        "/me/connections/?x=%00",
    ],
)
def test_nul_in_query_strings_of_pages(world, owner, path):
    assert_readable_refusal(owner.get(path))


def test_nul_in_the_oauth_start_return_to(world):
    client = quiet_client()
    client.force_login(world.a.member)
    response = client.get(f"/actions/{world.a.oauth_action.pk}/oauth/start?next=/me/%00x")
    assert_readable_refusal(response)


def test_nul_in_a_path_segment(world, owner):
    response = owner.get(f"/editor/actions/{world.a.action.pk}/operations/get%00Weather/test")
    assert_readable_refusal(response)
    response = owner.post(
        f"/api/v1/actions/{world.a.action.pk}/operations/get%00Weather/run",
        "{}",
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_nul_in_an_api_query_string_is_a_json_400(owner):
    response = owner.get("/api/v1/workspaces/?limit=%00")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "limit" in response.json()["detail"]


# Huge integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"page={HUGE}",
        f"page=-{HUGE}",
        "page=1e999",
        f"limit={HUGE}",
        f"offset={HUGE}",
        f"limit={HUGE}&offset={HUGE}",
        "limit=-1&offset=-5",
    ],
)
def test_huge_numbers_in_query_strings(world, owner, query):
    slug = world.a.workspace.slug
    for path in (
        "/editor/",
        "/me/connections/",
        "/api/v1/workspaces/",
        f"/api/v1/workspaces/{slug}/gpts/",
        f"/api/v1/gpts/{world.a.gpt.pk}/actions/",
        "/api/v1/me/connected-accounts/",
        "/api/v1/me/consents/",
    ):
        response = owner.get(f"{path}?{query}")
        assert response.status_code in (200, 400, 404), (path, query, response.status_code)


# URL import without a task queue ----------------------------------------------------------------


class Unhelpful:
    """A TCP server on 127.0.0.1 that either hangs up at once or never answers."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "drop":
                conn.close()
            else:
                self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["drop", "hang"])
def test_an_eager_import_that_fails_on_the_network_ends_failed(world, settings, monkeypatch, mode):
    assert settings.CELERY_TASK_ALWAYS_EAGER, "this is about eager mode (no CELERY_BROKER_URL)"
    monkeypatch.setattr("actions.import_job.IMPORT_TIMEOUT_SECONDS", 1)
    server = Unhelpful(mode)
    try:
        settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{world.port}", f"127.0.0.1:{server.port}"]
        client = quiet_client()
        client.force_login(world.a.owner)
        response = client.post(
            f"/api/v1/actions/{world.a.action.pk}/imports/",
            json.dumps({"url": f"http://127.0.0.1:{server.port}/openapi.json"}),
            content_type="application/json",
        )
    finally:
        server.close()
    assert response.status_code == 202, response.content[:300]
    job = SchemaImport.objects.get(pk=response.json()["id"])
    assert job.status == ImportStatus.FAILED
    assert job.error and "retried" in job.error
    answer = client.get(f"/api/v1/imports/{job.pk}/").json()
    assert answer["status"] == "failed" and answer["error"]


# Body sizes -------------------------------------------------------------------------------------


def near_limit_schema(port: int, limit: int) -> str:
    """A valid OpenAPI document just under `limit` bytes whose JSON-escaped form is much larger
    (quotes and newlines double)."""
    document = json.loads(action_schema(port))
    filler = '"quoted" line\n' * 4
    base = len(json.dumps(document, indent=2))
    stored = len(json.dumps(filler)) - 2  # its size inside the document's text
    document["info"]["description"] = filler * ((limit - base - 2048) // stored)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    assert len(text.encode()) <= limit
    return text


def test_a_schema_of_the_documented_size_is_accepted_everywhere(world, owner, settings):
    schema = near_limit_schema(world.port, settings.SCHEMA_MAX_BYTES)
    body = json.dumps({"schema": schema})
    assert len(body) > 6 * 1024 * 1024  # over the old 6 MB body cap and Django's 2.5 MB
    for path in ("/api/v1/schema/validate", "/api/v1/schema/format"):
        response = owner.post(path, body, content_type="application/json")
        assert response.status_code == 200, (path, response.content[:300])
    response = owner.patch(
        f"/api/v1/actions/{world.a.action.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    world.a.action.refresh_from_db()
    assert world.a.action.schema == schema
    # The editor's form, URL-encoded, carries it too.
    response = owner.post(f"/editor/actions/{world.a.action.pk}/", {"schema": schema + "\n"})
    assert response.status_code in (200, 302), response.content[:300]


def test_over_the_limit_is_a_json_413_naming_it_under_the_api(world, owner, settings):
    settings.REQUEST_MAX_BYTES = 100_000
    body = json.dumps({"schema": "x" * 100_001})
    for method, path in (
        ("post", "/api/v1/schema/validate"),
        ("patch", f"/api/v1/actions/{world.a.action.pk}/"),
    ):
        response = getattr(owner, method)(path, body, content_type="application/json")
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert "0.0953674 MB" in response.json()["detail"]
        assert "SCHEMA_MAX_BYTES" in response.json()["detail"]


def test_over_the_limit_is_a_readable_page_in_the_editor(world, owner, settings):
    settings.REQUEST_MAX_BYTES = 100_000
    schema = world.a.action.schema
    response = owner.post(f"/editor/actions/{world.a.action.pk}/", {"schema": "x" * 100_001})
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert "MB" in response.content.decode()
    world.a.action.refresh_from_db()
    assert world.a.action.schema == schema


@pytest.mark.parametrize("field", ["name", "description", "instructions"])
def test_a_lone_surrogate_in_a_json_body_is_a_400_not_a_500(world, owner, field):
    body = json.dumps({field: "a\ud800b"})  # JSON spells it \ud800
    assert "\\ud800" in body
    response = owner.patch(f"/api/v1/gpts/{world.a.gpt.pk}/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "surrogate" in response.json()["detail"]
