from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from cases.services import (
    due_for_purge,
    purge_expired,
    statistics_facets_prune,
    subject_packages_purge,
)


class Command(BaseCommand):
    help = (
        "Destroy closed cases past their retention date and not on legal hold (AS9-END-1): "
        "data key shredded, records and files deleted, a content-free tombstone left. "
        "Resumable, and safe to run on several servers at once. Also deletes survivors' "
        "access packages past their download window. Run daily (docs/deployment.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what is due, change nothing"
        )
        parser.add_argument("--batch", type=int, default=500, help="cases per transaction")
        parser.add_argument("--limit", type=int, default=None, help="stop after this many")

    def handle(self, *args: Any, **options: Any) -> None:
        due = due_for_purge()
        if options["dry_run"]:
            by_year = Counter(
                day.year
                for day in due.values_list("retention_until", flat=True).iterator()
                if day is not None
            )
            total = sum(by_year.values())
            self.stdout.write(f"{total} closed cases are past their retention date (dry run)")
            for year, count in sorted(by_year.items()):
                self.stdout.write(f"  retention ended in {year}: {count}")
            return
        total = due.count()
        if options["limit"] is not None:
            total = min(total, options["limit"])
        with tqdm(total=total, desc="purging expired cases", unit="case") as bar:

            def progress(done: int, files: int) -> None:
                bar.update(done - bar.n)
                bar.set_postfix(files=files)

            ended = purge_expired(
                batch=max(1, options["batch"]), limit=options["limit"], progress=progress
            )
        packages = subject_packages_purge()
        facets = statistics_facets_prune()
        self.stdout.write(
            f"purged {ended.survivors} cases ({ended.files} stored files); "
            f"{packages} expired access packages deleted; "
            f"{facets} statistics entries of ended research consents dropped"
        )
