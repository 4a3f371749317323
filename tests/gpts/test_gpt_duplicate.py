"""actions.services.gpt_duplicate: a copy made through the services, so every rule and the audit
apply; refused whole when one of them refuses, never half made (issue 17.5)."""

import pytest

from actions.models import Action, AuthType, ConnectedAccount, Consent
from actions.services import action_create, gpt_duplicate
from gpts.models import GPT, Visibility
from kernel.errors import RuleViolation
from tests.api.conftest import weather_schema
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Plan, Role

pytestmark = pytest.mark.django_db

KEY = "sk-live-duplicate-9fA2"


@pytest.fixture
def world(db):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    world = {
        "acme": acme,
        "owner": add_member(acme, role=Role.OWNER, username="owner"),
        "builder": add_member(acme, role=Role.BUILDER, username="builder"),
        "builder2": add_member(acme, role=Role.BUILDER, username="builder2"),
        "member": add_member(acme, role=Role.MEMBER, username="member"),
    }
    gpt = make_gpt(
        acme,
        created_by=world["builder"],
        name="Weather",
        description="Says the weather",
        instructions="Be brief.",
        model="gpt-4o",
        visibility=Visibility.WORKSPACE,
    )
    action_create(
        gpt=gpt,
        acting_user=world["builder"],
        schema=weather_schema("weather.example.com"),
        auth={"type": "api_key", "api_key": KEY, "auth_type": "custom", "custom_header": "X-K"},
        privacy_policy_url="https://weather.example.com/privacy",
    )
    action_create(
        gpt=gpt,
        acting_user=world["builder"],
        schema=weather_schema("forecast.example.com", operation_id="GetForecast"),
    )
    world["gpt"] = gpt
    return world


def test_the_copy_has_the_gpt_and_every_action_and_is_only_the_copiers(world):
    copy = gpt_duplicate(gpt=world["gpt"], acting_user=world["builder"])
    assert copy.pk != world["gpt"].pk
    assert copy.name == "Copy of Weather"
    assert (copy.description, copy.instructions, copy.model) == (
        "Says the weather",
        "Be brief.",
        "gpt-4o",
    )
    assert copy.visibility == Visibility.ONLY_ME and copy.created_by == world["builder"]
    assert copy.workspace == world["acme"]
    actions = list(copy.actions.order_by("domain"))
    assert [a.domain for a in actions] == ["forecast.example.com", "weather.example.com"]
    keyed = actions[1]
    assert keyed.auth_type == AuthType.API_KEY and keyed.api_key == KEY
    assert keyed.custom_header == "X-K"
    assert keyed.privacy_policy_url == "https://weather.example.com/privacy"
    assert list(keyed.operations.values_list("operation_id", flat=True)) == ["GetCurrentWeather"]
    # The source is untouched.
    assert world["gpt"].actions.count() == 2


def test_an_action_without_a_schema_is_left_out_of_the_copy(world):
    # Saved before an action needed a schema (a failed import left it): it does nothing.
    Action.objects.create(gpt=world["gpt"], workspace=world["acme"])
    copy = gpt_duplicate(gpt=world["gpt"], acting_user=world["builder"])
    assert sorted(copy.actions.values_list("domain", flat=True)) == [
        "forecast.example.com",
        "weather.example.com",
    ]
    assert world["gpt"].actions.count() == 3


def test_the_copy_is_audited_without_secrets(world):
    copy = gpt_duplicate(gpt=world["gpt"], acting_user=world["owner"])
    event = AuditEvent.objects.get(kind=AuditKind.GPT_DUPLICATED)
    assert event.actor == world["owner"] and event.target == copy.name
    assert event.before == {"id": world["gpt"].pk, "name": "Weather"}
    assert event.after["id"] == copy.pk
    # The copied authentication is recorded as every auth change is, redacted.
    auth_rows = AuditEvent.objects.filter(
        kind=AuditKind.ACTION_AUTH_CHANGED, target__startswith="Copy of"
    )
    assert auth_rows.exists()
    assert all(KEY not in str(row.after) for row in auth_rows)


def test_users_connections_and_approvals_are_not_copied(world):
    action = world["gpt"].actions.get(domain="weather.example.com")
    Consent.objects.create(
        user=world["member"],
        action=action,
        gpt=world["gpt"],
        workspace=world["acme"],
        operation_id="GetCurrentWeather",
    )
    copy = gpt_duplicate(gpt=world["gpt"], acting_user=world["builder"])
    assert not Consent.objects.filter(gpt=copy).exists()
    assert not ConnectedAccount.objects.filter(gpt=copy).exists()


@pytest.mark.parametrize("who", ["builder2", "member"])
def test_only_who_may_edit_the_gpt_copies_it(world, who):
    before = (GPT.objects.count(), Action.objects.count())
    with pytest.raises(RuleViolation) as refused:
        gpt_duplicate(gpt=world["gpt"], acting_user=world[who])
    assert refused.value.status == 403
    assert (GPT.objects.count(), Action.objects.count()) == before


def test_a_rule_that_now_refuses_an_action_refuses_the_whole_copy(world):
    """The allowlist changed since the actions were saved: the copy obeys it as a save would,
    and nothing of the copy is left behind."""
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="forecast.example.com")
    before = (GPT.objects.count(), Action.objects.count(), AuditEvent.objects.count())
    with pytest.raises(RuleViolation) as refused:
        gpt_duplicate(gpt=world["gpt"], acting_user=world["builder"])
    assert refused.value.code == "domain_not_allowed"
    assert "weather.example.com" in refused.value.detail
    assert (GPT.objects.count(), Action.objects.count(), AuditEvent.objects.count()) == before


def test_a_long_name_is_cut_to_the_limit(world):
    GPT.objects.filter(pk=world["gpt"].pk).update(name="W" * 120)
    copy = gpt_duplicate(gpt=world["gpt"], acting_user=world["builder"])
    assert len(copy.name) == 120 and copy.name.startswith("Copy of W")
