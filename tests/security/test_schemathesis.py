"""Property-based fuzzing of the REST API against its own OpenAPI document (schemathesis).

Every operation of /api/v1/schema/ is called in-process through the project's WSGI application
with a real bearer token (from `issue_api_token`) of workspace A's owner and of a plain member.
Examples are drawn from three sources: the ids of objects that exist with a meaningful body (so
runs reach the server on 127.0.0.1, updates save), the ids of objects that exist with generated
bodies, and everything generated. Each answer must not be a 5xx and must match the document:
a declared status code, a declared content type, a body valid against the declared schema.
Each example runs in a savepoint that is rolled back, so a DELETE does not starve the examples
after it.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from actions.models import ConnectedAccount, Consent
from chat.models import Conversation
from tests.security.conftest import OPERATION_ID, action_schema, issue_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 15


def operation_ids() -> list[str]:
    """The document's operations, read at collection time (no request, no database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )


def existing_ids(world, user) -> dict[str, object]:
    """Path parameters naming objects of workspace A that `user` may reach (a connection and a
    remembered approval are the user's own: the owner gets theirs here)."""
    a = world.a
    connection, consent, conversation = a.connection, a.consent, a.conversation
    if user != a.member:
        conversation = Conversation.objects.create(workspace=a.workspace, gpt=a.gpt, user=user)
        connection = ConnectedAccount.objects.create(
            user=user,
            action=a.oauth_action,
            gpt=a.oauth_action.gpt,
            workspace=a.workspace,
            access_token="owner-access-x1",
            scopes="read",
        )
        consent = Consent.objects.create(
            user=user, gpt=a.gpt, action=a.action, workspace=a.workspace, operation_id=OPERATION_ID
        )
    return {
        "slug": a.workspace.slug,
        "gpt_id": a.gpt.pk,
        "action_id": a.action.pk,
        "import_id": a.schema_import.pk,
        "connection_id": connection.pk,
        "consent_id": consent.pk,
        "operation_id": OPERATION_ID,
        "conversation_id": conversation.pk,
        "user_id": a.member.pk,
        "invitation_id": a.invitation.pk,
    }


def meaningful_bodies(world) -> dict[str, list[object]]:
    """Bodies that get past input validation, so the work behind it is fuzzed too."""
    schema = action_schema(world.port, prefix="new")
    # An action needs a schema of its own domain: A's GPT has 127.0.0.1 already (a duplicate,
    # 400) and A's policy allows no other host (403), both the rules' own answers.
    elsewhere = schema.replace(f"http://127.0.0.1:{world.port}", "https://api.elsewhere.example")
    run = [
        {"arguments": {"location": "Paris"}, "consent": "allow"},
        {"arguments": {"location": "Paris"}, "consent": "always_allow"},
        {"arguments": {"location": "Paris"}, "consent": "decline"},
        {"arguments": {"location": "Paris"}},
    ]
    return {
        "actions_operations_run_create": run,
        "actions_imports_create": [{"url": f"http://127.0.0.1:{world.port}/openapi.json"}],
        "gpts_imports_create": [{"url": f"http://127.0.0.1:{world.port}/openapi.json"}],
        "actions_partial_update": [
            {"privacy_policy_url": "https://example.com/p"},
            {"auth": {"type": "api_key", "api_key": "k-123456789", "auth_type": "custom"}},
            {"auth": {"type": "none"}},
        ],
        "gpts_actions_create": [{"schema": schema}, {"schema": elsewhere}],
        "gpts_partial_update": [{"name": "Renamed"}, {"visibility": "store"}],
        "workspaces_gpts_create": [{"name": "New GPT"}],
        "workspaces_partial_update": [
            {"name": "Renamed"},
            {"action_domains": {"allow_all": False, "allowed": ["example.com"]}},
        ],
        "schema_format_create": [{"schema": schema}, {"schema": "openapi: 3.1.0\ninfo: {}"}],
        "schema_validate_create": [{"schema": schema}],
        "conversations_messages_create": [{"content": "What is the weather in Paris?"}],
        "conversations_consent_create": [{"tool_call_id": "call_1", "consent": "allow"}],
        "gpts_conversations_create": [{}, {"channel": "preview"}],
        "workspaces_members_create": [
            {"email": "newcomer@example.com", "role": "member"},
            {"username": world.b.owner.username, "role": "builder"},
        ],
        "workspaces_members_partial_update": [{"role": "builder"}, {"role": "member"}],
        "schema_select_create": [{"schema": schema, "operations": ["newgetWeather"]}],
        "schema_convert_create": [
            {"schema": '{"swagger": "2.0", "info": {"title": "T", "version": "1"}, "paths": {}}'}
        ],
    }


@pytest.fixture
def document(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app)


@pytest.mark.parametrize("caller", ["owner", "member"])
@pytest.mark.parametrize("operation_id", operation_ids())
def test_operation_matches_its_document(document, world, wsgi_app, operation_id, caller):
    operation = document.find_operation_by_id(operation_id)
    user = getattr(world.a, caller)
    headers = {"Authorization": f"Bearer {issue_token(user.username)}"}
    names = {p.name for p in operation.path_parameters}
    real = {k: v for k, v in existing_ids(world, user).items() if k in names}
    strategies = [
        operation.as_strategy(path_parameters=real, body=body)
        for body in meaningful_bodies(world).get(operation_id, [])
    ]
    strategies += [operation.as_strategy(path_parameters=real), operation.as_strategy()]
    statuses: list[int] = []

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        # Requests through the whole stack are slow by Hypothesis' measure, and fixed path
        # parameters make some strategies filter a lot: neither is a problem here.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    def check(case):
        with transaction.atomic():
            response = case.call(app=wsgi_app, headers=headers)
            statuses.append(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            finally:
                transaction.set_rollback(True)

    check()
    # The run must have done real work, not only bounced off 404s and 400s.
    assert any(status < 300 or status in (403, 409) for status in statuses), statuses


def test_the_document_declares_the_error_shape(client):
    """The shared error answers are in the document, so clients can rely on them."""
    document = json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content)
    assert document["components"]["schemas"]["Error"]["required"] == ["code", "detail"]
    detail = document["paths"]["/api/v1/gpts/{gpt_id}/"]["patch"]["responses"]
    assert {"200", "400", "401", "403", "404", "413", "415"} <= set(detail)
