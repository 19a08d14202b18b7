from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from cases.models import ReferralPackage
from cases.services import referral_packages_purge


class Command(BaseCommand):
    help = "Delete referral packages past their download window (run from cron, hourly)."

    def handle(self, *args: Any, **options: Any) -> None:
        due = ReferralPackage.objects.filter(referral__available_until__lte=timezone.now()).count()
        with tqdm(total=due, desc="purging expired packages", unit="package") as bar:
            purged = referral_packages_purge(progress=bar.update)
        self.stdout.write(f"purged {purged} expired referral packages")
