"""Demo data for a first run: two workspaces, their people, and a GPT calling the sandbox API.

Idempotent: whatever exists already is left as it is, so a second run changes nothing.
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from actions.openapi.examples import EXAMPLES
from actions.services import action_create
from gpts.models import GPT, Visibility
from workspaces.models import Membership, Plan, Role, Workspace

# Demo-only credentials, printed for the newcomer. Never run seed_demo in production.
PEOPLE = [
    # username, password, workspace slug, role, staff
    ("admin", "admin-demo-pass", None, None, True),
    ("alice", "alice-demo-pass", "acme", Role.OWNER, True),
    ("bob", "bob-demo-pass", "acme", Role.BUILDER, False),
    ("carol", "carol-demo-pass", "acme", Role.MEMBER, False),
    ("dave", "dave-demo-pass", "globex", Role.OWNER, True),
]
WORKSPACES = [("acme", "Acme", Plan.ENTERPRISE), ("globex", "Globex", Plan.TEAM)]
DEMO_GPT_NAME = "Weather helper"


def sandbox_weather_schema() -> str:
    """The Weather example, pointed at the sandbox API served by this very site."""
    weather = next(example for example in EXAMPLES if example["key"] == "weather")
    document = json.loads(weather["schema"])
    document["servers"] = [{"url": f"{settings.SITE_URL}/sandbox/weather"}]
    return json.dumps(document, indent=2)


class Command(BaseCommand):
    help = "Create the demo workspaces, users and GPT (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        users = get_user_model().objects
        workspaces = {}
        for slug, name, plan in WORKSPACES:
            workspaces[slug], _ = Workspace.objects.get_or_create(
                slug=slug, defaults={"name": name, "plan": plan}
            )
        for username, password, slug, role, staff in PEOPLE:
            user = users.filter(username=username).first()
            if user is None:
                user = users.create_user(
                    username=username, password=password, is_staff=staff, is_superuser=slug is None
                )
            if slug:
                Membership.objects.get_or_create(
                    workspace=workspaces[slug], user=user, defaults={"role": role}
                )
        alice = users.get(username="alice")
        gpt, created = GPT.objects.get_or_create(
            workspace=workspaces["acme"],
            name=DEMO_GPT_NAME,
            defaults={
                "created_by": alice,
                "visibility": Visibility.WORKSPACE,
                "description": "Answers with the weather from the sandbox API.",
                "instructions": "Use GetCurrentWeather to answer weather questions.",
            },
        )
        if created or not gpt.actions.exists():
            action_create(gpt=gpt, acting_user=alice, schema=sandbox_weather_schema())
        self._print_people()

    def _print_people(self):
        self.stdout.write("Demo users (passwords unchanged if you changed them since):")
        for username, password, slug, role, _staff in PEOPLE:
            where = f"{role} of {slug}" if slug else "superuser"
            self.stdout.write(f"  {username:<6} {password:<18} {where}")
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/")
