from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from audit import anomalies
from audit.models import AccessEvent, AnomalyScan


class Command(BaseCommand):
    help = "Apply the anomaly rules to every access event not yet scanned (run from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        done = AnomalyScan.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
        pending = AccessEvent.objects.filter(pk__gt=done or 0).count()
        raised = 0
        with tqdm(total=pending, desc="scanning access events", unit="event") as bar:
            while True:
                before = (
                    AnomalyScan.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
                    or 0
                )
                raised += anomalies.scan()
                after = (
                    AnomalyScan.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
                    or 0
                )
                if after == before:
                    break
                bar.update(AccessEvent.objects.filter(pk__gt=before, pk__lte=after).count())
        self.stdout.write(f"raised {raised} anomalies")
