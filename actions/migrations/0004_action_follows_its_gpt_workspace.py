"""Every action, and every row an action leaves (imports, connections, approvals, invocations),
is in its GPT's workspace, and the database refuses anything else.

On PostgreSQL composite foreign keys carry the rule: (gpt_id, workspace_id) references
gpts_gpt (id, workspace_id), and a schema import's (action_id, workspace_id) references
actions_action (id, workspace_id). ON UPDATE CASCADE makes a GPT's move (actions.services.gpt_move)
carry its rows along; a raw update that separates a row from its GPT's workspace is an
IntegrityError. SQLite (development runs) keeps the service's check only. Rows that already
disagree are first moved to their GPT's workspace, since the GPT is the record of ownership.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

# (table, (its columns), referenced table) — the referenced columns are always (id, workspace_id).
COMPOSITE_KEYS = [
    ("actions_action", "gpt_id", "gpts_gpt", "action_gpt_workspace_fk"),
    ("actions_connectedaccount", "gpt_id", "gpts_gpt", "connectedaccount_gpt_workspace_fk"),
    ("actions_consent", "gpt_id", "gpts_gpt", "consent_gpt_workspace_fk"),
    ("actions_invocation", "gpt_id", "gpts_gpt", "invocation_gpt_workspace_fk"),
    ("actions_schemaimport", "action_id", "actions_action", "schemaimport_action_workspace_fk"),
]


def repair_mismatches(apps, schema_editor):
    GPT = apps.get_model("gpts", "GPT")
    Action = apps.get_model("actions", "Action")
    gpt_workspace = GPT.objects.filter(pk=OuterRef("gpt_id")).values("workspace_id")[:1]
    for name in ("Action", "ConnectedAccount", "Consent", "Invocation"):
        model = apps.get_model("actions", name)
        mismatched = model.objects.exclude(workspace_id=Subquery(gpt_workspace))
        mismatched.update(workspace_id=Subquery(gpt_workspace))
    action_workspace = Action.objects.filter(pk=OuterRef("action_id")).values("workspace_id")[:1]
    SchemaImport = apps.get_model("actions", "SchemaImport")
    SchemaImport.objects.exclude(workspace_id=Subquery(action_workspace)).update(
        workspace_id=Subquery(action_workspace)
    )


def add_composite_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # Run the deferred checks of the repair's updates now: ALTER TABLE refuses a table with
    # pending trigger events.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, column, referenced, name in COMPOSITE_KEYS:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} "
            f"FOREIGN KEY ({column}, workspace_id) REFERENCES {referenced} (id, workspace_id) "
            "ON UPDATE CASCADE DEFERRABLE INITIALLY IMMEDIATE"
        )


def drop_composite_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _column, _referenced, name in reversed(COMPOSITE_KEYS):
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("actions", "0003_connection_status_reason"),
        ("gpts", "0002_gpt_id_workspace_unique"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="action",
            constraint=models.UniqueConstraint(
                fields=("id", "workspace"), name="action_id_workspace_unique"
            ),
        ),
        migrations.RunPython(repair_mismatches, migrations.RunPython.noop),
        migrations.RunPython(add_composite_keys, drop_composite_keys),
    ]
