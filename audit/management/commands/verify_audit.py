from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from audit import chain
from audit.services import event_record


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chain. Exit 0 when intact; otherwise non-zero, naming the "
        "first broken link. --checkpoint FILE also checks a signed checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", help="a file written by audit_checkpoint")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(total=chain.total_links(), desc="verifying audit chain", unit="entry") as bar:
            verdict = chain.verify(batch=options["batch_size"], progress=bar.update)
        if verdict.intact and options["checkpoint"]:
            token = Path(options["checkpoint"]).read_text().strip()
            verdict = chain.verify_checkpoint(token)
            if verdict.intact:
                self.stdout.write(f"checkpoint matches link #{verdict.checked}")
        event_record(
            actor=None,
            action="audit.verify",
            reason="" if verdict.intact else "broken",
            detail={"checked": verdict.checked, "intact": verdict.intact},
        )
        if not verdict.intact:
            raise CommandError(verdict.describe())
        self.stdout.write(self.style.SUCCESS(verdict.describe()))
