from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from audit import partitions


class Command(BaseCommand):
    help = (
        "Make the access events' monthly partitions ahead (run monthly from cron as the "
        "database owner; migrate also makes twelve months) and list every partition with "
        "its rows and tablespace. PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--months-ahead",
            type=int,
            default=partitions.MONTHS_AHEAD,
            help="make partitions up to this many months from now (default 12)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not partitions.is_partitioned(connection):
            raise CommandError("access events are partitioned on PostgreSQL only")
        if not 1 <= options["months_ahead"] <= 120:
            raise CommandError("--months-ahead must be between 1 and 120")
        made = partitions.ensure(months_ahead=options["months_ahead"])
        for name in made:
            self.stdout.write(f"made {name}")
        for part in partitions.partitions():
            self.stdout.write(
                f"{part.name:<34} {part.rows:>12,} rows  {part.tablespace:<12} {part.bounds}"
            )
            if part.name == partitions.DEFAULT_PARTITION and part.rows:
                self.stderr.write(
                    f"{part.rows} events are in the default partition: their month had no "
                    "partition in time. Run this command monthly; see docs/deployment.md."
                )
