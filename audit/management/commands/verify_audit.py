from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from access import ledger
from audit import log, verification
from audit.models import Verification


def _saved(path: str) -> verification.SavedHead:
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
        return verification.SavedHead(
            size=int(body["size"]),
            root_hash=str(body["root_hash"]),
            timestamp=str(body["timestamp"]),
            signature=str(body["signature"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"{path} is not a saved tree head: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Sequence what is queued, then rebuild the audit log from its records and check "
        "every leaf, stored node and signed tree head. Exit 0 when intact; otherwise "
        "non-zero, naming the first broken leaf. --head FILE (repeatable) also checks a "
        "tree head saved off this server: the log must still extend it. --in-python "
        "rebuilds every leaf in this process instead of letting PostgreSQL rebuild the "
        "leaves of events without detail (slower; trusts only the stored values)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--head", action="append", default=[], help="a saved signed tree head (JSON)"
        )
        parser.add_argument(
            "--in-python",
            action="store_true",
            help="rebuild every leaf here, none in the database",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        saved = [_saved(path) for path in options["head"]]
        with tqdm(desc="sequencing queued events", unit="leaf", leave=False) as bar:
            ledger.sequence_now(progress=bar.update)
        with tqdm(total=log.tree_size(), desc="verifying audit log", unit="leaf") as bar:
            _, verdict = ledger.run_check(
                Verification.Kind.FULL,
                saved=saved,
                progress=bar.update,
                in_python=options["in_python"],
            )
        if not verdict.intact:
            raise CommandError(verdict.describe())
        for point in saved:
            self.stdout.write(f"the log extends the saved head of size {point.size}")
        self.stdout.write(self.style.SUCCESS(verdict.describe()))
