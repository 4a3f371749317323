"""Demo data for a first run: two workspaces, their people, and GPTs calling the sandbox API:
"Weather helper" (no authentication) and "To-do helper" (OAuth against the sandbox's own
provider, registered here as the DOT application "Sandbox to-dos"), each with conversation
starters the sandbox's demo model answers (ask the To-do helper "List my to-dos").

Acme (Enterprise) is created with an allowlist holding only the sandbox's host, so the demo shows
a working domain policy: the sandbox is this very site, at SITE_URL. That host must be one the
allowlist accepts. `make run` serves the site as http://localhost:PORT and sets
ACTION_DOMAIN_ALLOW_IP_LITERALS (local development: the allowlist then accepts `localhost` and IP
addresses) with OUTBOUND_ALLOW_PRIVATE=localhost:PORT (actions may call that loopback port). A
SITE_URL whose host the allowlist refuses (127.0.0.1 without that setting) leaves Acme allowing
every domain, and the command says why.

Idempotent: whatever exists already is left as it is, so a second run changes nothing.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from actions.links import callback_url
from actions.openapi.examples import EXAMPLES
from actions.services import action_create, action_update
from gpts.models import GPT, Visibility
from gpts.services import gpt_create, gpt_update
from sandbox.openapi import todo_openapi_text
from workspaces.domains import DomainError, parse_allowlist_entry
from workspaces.models import Membership, Plan, Role, Workspace
from workspaces.services import domain_policy_update, membership_add, workspace_create

# Demo-only credentials, printed for the newcomer. Never run seed_demo in production.
PEOPLE = [
    # username, password, workspace slug, role, staff
    ("admin", "admin-demo-pass", None, None, True),
    ("alice", "alice-demo-pass", "acme", Role.OWNER, True),
    ("bob", "bob-demo-pass", "acme", Role.BUILDER, False),
    ("carol", "carol-demo-pass", "acme", Role.MEMBER, False),
    # An admin who is not the owner: manages members and reviews operations in /admin/, reads
    # (but cannot change) the domain policy and the governance settings.
    ("erin", "erin-demo-pass", "acme", Role.ADMIN, True),
    ("dave", "dave-demo-pass", "globex", Role.OWNER, True),
]
WORKSPACES = [("acme", "Acme", Plan.ENTERPRISE), ("globex", "Globex", Plan.TEAM)]
DEMO_GPT_NAME = "Weather helper"
TASKS_GPT_NAME = "To-do helper"
SANDBOX_APP_NAME = "Sandbox to-dos"
# Buttons of the chat (/g/{id}/ and the editor's Preview); the sandbox demo model answers them.
WEATHER_STARTERS = ["What's the weather in Paris?"]
TODO_STARTERS = ["List my to-dos", "Add a to-do: water the plants"]


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
        # Through the services, as any other entry point: the demo obeys the product's rules
        # (the creator of a workspace owns it, roles are checked, every change is audited).
        users = {
            username: self._user(username, password, staff=staff, superuser=slug is None)
            for username, password, slug, _role, staff in PEOPLE
        }
        workspaces = {}
        policy_note = ""
        for slug, name, plan in WORKSPACES:
            workspace = Workspace.objects.filter(slug=slug).first()
            if workspace is None:
                owner = next(
                    users[username]
                    for username, _password, where, role, _staff in PEOPLE
                    if where == slug and role == Role.OWNER
                )
                workspace = workspace_create(name=name, slug=slug, plan=plan, creator=owner)
                if workspace.has_domain_policy:
                    policy_note = self._allowlist_sandbox(workspace, owner)
            workspaces[slug] = workspace
        for username, _password, where, role, _staff in PEOPLE:
            user = users[username]
            if (
                where
                and role
                and not Membership.objects.filter(workspace=workspaces[where], user=user).exists()
            ):
                membership_add(workspace=workspaces[where], user=user, role=role, actor=None)
        alice = users["alice"]
        gpt = self._gpt(
            workspaces["acme"],
            alice,
            name=DEMO_GPT_NAME,
            description="Answers with the weather from the sandbox API.",
            instructions="Use GetCurrentWeather to answer weather questions.",
            conversation_starters=WEATHER_STARTERS,
        )
        if not gpt.conversation_starters:
            gpt = gpt_update(gpt=gpt, acting_user=alice, conversation_starters=WEATHER_STARTERS)
        if not gpt.actions.exists():
            action_create(gpt=gpt, acting_user=alice, schema=sandbox_weather_schema())
        self._seed_todo_helper(workspaces["acme"], alice)
        self._print_people()
        if policy_note:
            self.stdout.write(policy_note)

    @staticmethod
    def _allowlist_sandbox(workspace, owner) -> str:
        """Restrict a new Enterprise workspace to the sandbox's host, through the policy service
        (audited as the owner's change); what to tell the newcomer about it."""
        host = urlsplit(settings.SITE_URL).hostname or ""
        try:
            entry = parse_allowlist_entry(
                host, allow_ip_literals=settings.ACTION_DOMAIN_ALLOW_IP_LITERALS
            )
        except DomainError as exc:
            return (
                f"{workspace.name} allows every domain: the sandbox's host {host} can not be "
                f"allowlisted ({exc}). Serve the demo at http://localhost:PORT with "
                "ACTION_DOMAIN_ALLOW_IP_LITERALS=true, as `make run` does, to see an allowlist "
                "at work."
            )
        domain_policy_update(workspace=workspace, actor=owner, allow_all=False, allowed=[entry])
        return f"{workspace.name} allows actions to call only {entry} (the sandbox)."

    @staticmethod
    def _user(username: str, password: str, *, staff: bool, superuser: bool):
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            user = users.create_user(
                username=username, password=password, is_staff=staff, is_superuser=superuser
            )
        return user

    @staticmethod
    def _gpt(workspace, creator, *, name: str, **fields) -> GPT:
        existing = GPT.objects.filter(workspace=workspace, name=name).first()
        if existing is not None:
            return existing
        return gpt_create(
            workspace=workspace,
            acting_user=creator,
            name=name,
            visibility=Visibility.WORKSPACE,
            **fields,
        )

    def _seed_todo_helper(self, workspace, alice):
        """The OAuth demo: a GPT whose action reaches the sandbox to-do API with the user's
        token from the sandbox provider, so a newcomer can connect an account on first run."""
        gpt = self._gpt(
            workspace,
            alice,
            name=TASKS_GPT_NAME,
            description="Keeps your to-do list in the sandbox API (connect your account).",
            instructions="Use listTodos, createTodo and updateTodo to manage the list.",
            conversation_starters=TODO_STARTERS,
        )
        if not gpt.conversation_starters:  # seeded before GPTs had starters
            gpt = gpt_update(gpt=gpt, acting_user=alice, conversation_starters=TODO_STARTERS)
        redirect_uri = callback_url(gpt.pk)
        application_model = get_application_model()
        application = application_model.objects.filter(name=SANDBOX_APP_NAME).first()
        new_secret = None
        if application is None:
            # DOT hashes client_secret on save: keep the plaintext for the action, which must
            # send it to the token endpoint.
            new_secret = generate_client_secret()
            application = application_model.objects.create(
                name=SANDBOX_APP_NAME,
                client_type=application_model.CLIENT_CONFIDENTIAL,
                authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
                redirect_uris=redirect_uri,
                client_secret=new_secret,
                hash_client_secret=True,
                skip_authorization=False,
            )
        elif redirect_uri not in application.redirect_uris.split():
            application.redirect_uris = " ".join([*application.redirect_uris.split(), redirect_uri])
            application.save(update_fields=["redirect_uris", "updated"])
        action = gpt.actions.first()
        if action is not None and new_secret is None:
            return
        if new_secret is None:
            # The action is gone and only the hash of the secret is left: issue a new secret.
            new_secret = generate_client_secret()
            application.client_secret = new_secret
            application.save(update_fields=["client_secret", "updated"])
        auth = {
            "type": "oauth",
            "client_id": application.client_id,
            "client_secret": new_secret,
            "authorization_url": f"{settings.SITE_URL}/o/authorize/",
            "token_url": f"{settings.SITE_URL}/o/token/",
            "revocation_url": f"{settings.SITE_URL}/o/revoke_token/",
            "scope": "todos",
            "token_exchange_method": "default_post",
        }
        if action is None:
            action_create(gpt=gpt, acting_user=alice, schema=todo_openapi_text(), auth=auth)
        else:
            action_update(action=action, acting_user=alice, auth=auth)

    def _print_people(self):
        self.stdout.write("Demo users (passwords unchanged if you changed them since):")
        for username, password, slug, role, _staff in PEOPLE:
            where = f"{role} of {slug}" if slug else "superuser"
            self.stdout.write(f"  {username:<6} {password:<18} {where}")
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/")
