"""Queue the schema imports left pending while the broker was unavailable (what celery beat
does every 30 s; for deployments without beat, or by hand after an outage)."""

from django.core.management.base import BaseCommand

from actions.tasks import import_dispatch_pending


class Command(BaseCommand):
    help = "Queue the URL imports that could not be queued while the broker was unavailable."

    def handle(self, *args, **options):
        queued = import_dispatch_pending()
        self.stdout.write(f"{queued} pending import{'' if queued == 1 else 's'} queued.")
