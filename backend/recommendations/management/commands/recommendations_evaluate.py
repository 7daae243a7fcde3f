import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backend.recommendations import evaluation, generator, training
from backend.recommendations.models import ModelRun, RunKind, RunStatus


class Command(BaseCommand):
    help = (
        "Split interactions by time, train ALS on the earlier part and report precision@10, nDCG@10, "
        "recall@10 and coverage for ALS and a popularity baseline; the report is stored for the "
        "admin recommendations page."
    )

    def add_arguments(self, parser):
        parser.add_argument("--synthetic", choices=sorted(generator.SIZES), help="Use generated data of this size.")
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        if not 0 < options["test_fraction"] < 1:
            raise CommandError("--test-fraction must be between 0 and 1.")
        if options["synthetic"]:
            data = generator.of_size(options["synthetic"], seed=options["seed"]).dataset()
            source = f"synthetic:{options['synthetic']}"
        else:
            data = training.dataset_from_db()
            source = "database"
        if len(data) < 10:
            raise CommandError("Not enough interactions to evaluate; try --synthetic small.")
        run = ModelRun.objects.create(kind=RunKind.EVALUATE)
        report = evaluation.evaluate(
            data, params=training.Params.from_settings(), test_fraction=options["test_fraction"], seed=options["seed"]
        )
        report["source"] = source
        run.report, run.train_seconds = report, report["train_seconds"]
        run.users, run.items = report["matrix"]["users"], report["matrix"]["items"]
        run.interactions, run.status, run.finished_at = len(data), RunStatus.DONE, timezone.now()
        run.save()
        self.stdout.write(json.dumps(report, indent=2))
