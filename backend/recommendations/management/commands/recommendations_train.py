from django.core.management.base import BaseCommand, CommandError

from backend.recommendations import tasks


class Command(BaseCommand):
    help = "Train the recommendations model now (skipped if a training run holds the lock)."

    def handle(self, *args, **options):
        run = tasks.train_locked()
        if run is None:
            raise CommandError("A training run is already in progress.")
        if run.status != "done":
            raise CommandError(f"Training failed: {run.error}")
        self.stdout.write(f"model {run.version}: {run.users} × {run.items} in {run.train_seconds:.2f}s")
