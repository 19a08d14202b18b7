from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from access import ledger
from audit import forward


class Command(BaseCommand):
    help = (
        "Put queued audit events into the log and sign a new tree head: once (--once), or "
        "every --interval seconds until stopped, and forward the new leaves to the collectors "
        "set in HAVEN_SYSLOG_URL and HAVEN_FHIR_AUDIT_URL, and run the scheduled check of the log "
        "when it is due (HAVEN_AUDIT_CHECK_MINUTES, HAVEN_AUDIT_FULL_CHECK_HOURS). Safe to run beside the app processes' "
        "own sequencers and on several servers: runs take turns on a database lock."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one run, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between runs")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            with tqdm(desc="sequencing", unit="leaf") as bar:
                result = ledger.sequence_now(progress=bar.update)
            self.stdout.write(f"sequenced {result.added} leaves; the log has {result.size}")
            for sent in forward.forward_all():
                self.stdout.write(
                    f"forwarded {sent.sent} to {sent.destination} {sent.error}".rstrip()
                )
            self._check()
            return
        while True:  # pragma: no cover (a service loop; --once is the tested path)
            result = ledger.sequence_now(wait=False)
            if result.added:
                self.stdout.write(f"sequenced {result.added}; the log has {result.size}")
            for sent in forward.forward_all():
                if sent.sent or sent.error:
                    self.stdout.write(
                        f"forwarded {sent.sent} to {sent.destination} {sent.error}".rstrip()
                    )
            self._check()
            time.sleep(options["interval"])

    def _check(self) -> None:
        """The scheduled check of the log, when it is due and no other process runs it."""
        check = ledger.verify_if_due()
        if check is not None:
            verdict = "intact" if check.intact else f"BROKEN: {check.problem}"
            self.stdout.write(
                f"{check.kind} check of leaves {check.start}-{check.checked}: {verdict}"
            )
