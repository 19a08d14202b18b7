from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from audit import forward, log


class Command(BaseCommand):
    help = (
        "Send the sequenced audit log to the collectors set in HAVEN_SYSLOG_URL and "
        "HAVEN_FHIR_AUDIT_URL, from where each stopped (catching up after an outage), or "
        "with --status show how far each has been sent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", action="store_true", help="positions only, send nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        size = log.tree_size()
        if options["status"]:
            rows = forward.positions()
            if not rows:
                self.stdout.write("nothing has been forwarded")
            for row in rows:
                problem = f", {row.failures} failures: {row.last_error}" if row.failures else ""
                self.stdout.write(
                    f"{row.destination}: {row.position} of {size} leaves sent, "
                    f"last at {row.updated_at:%Y-%m-%d %H:%M:%S %Z}{problem}"
                )
            return
        destinations = forward.destinations()
        if not destinations:
            raise CommandError("no collector is set (HAVEN_SYSLOG_URL, HAVEN_FHIR_AUDIT_URL)")
        failed = False
        sent_already = {row.destination: row.position for row in forward.positions()}
        for destination in destinations:
            start = sent_already.get(destination.name, 0)
            with tqdm(desc=destination.name, unit="leaf", total=max(size - start, 0)) as bar:
                result = forward.forward(destination, progress=bar.update)
            if result.error:
                failed = True
                self.stderr.write(
                    f"{destination.name}: {result.error}; resumes at leaf {result.position}"
                )
            else:
                self.stdout.write(
                    f"{destination.name}: {result.sent} sent, at leaf {result.position}"
                )
        if failed:
            raise CommandError("a collector did not take the log; run again to resume")
