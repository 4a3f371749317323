import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('actions', '0008_operation_enabled_and_review'),
        ('gpts', '0002_gpt_id_workspace_unique'),
        ('workspaces', '0006_workspace_mcp_enabled'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PendingApproval',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(max_length=64, unique=True, verbose_name='Token hash (SHA-256)')),
                ('operation_id', models.CharField(max_length=64, verbose_name='Operation ID')),
                ('arguments_hash', models.CharField(max_length=64, verbose_name='Arguments hash (SHA-256)')),
                ('domain', models.CharField(max_length=255)),
                ('consequential', models.BooleanField(default=True)),
                ('request', models.JSONField(default=dict)),
                ('decision', models.CharField(blank=True, choices=[('allow', 'Allow'), ('always_allow', 'Always allow'), ('decline', 'Decline')], max_length=16)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('action', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='actions.action')),
                ('gpt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='gpts.gpt', verbose_name='GPT')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
            ],
            options={
                'verbose_name': 'pending approval',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['user', 'gpt', 'operation_id', 'arguments_hash'], name='pendingapproval_call')],
            },
        ),
    ]
