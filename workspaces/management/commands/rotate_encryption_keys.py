"""Re-encrypt every secret under the newest FIELD_ENCRYPTION_KEYS key."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from kernel.encryption import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            with transaction.atomic():
                # Reading decrypts with any listed key; saving encrypts with the newest.
                for obj in model._default_manager.select_for_update().only("pk", *fields):
                    obj.save(update_fields=fields)
                    total += 1
        self.stdout.write(f"Re-encrypted {total} rows.")
