from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from access import keys
from access.crypto.errors import CryptoError
from access.crypto.keyring import get_provider


class Command(BaseCommand):
    help = "Keys: add, rotate, retire KEY_ID, status, reindex [--new-index-key]."
    # `keys add` must work before a keyring exists (first installation), so the
    # system check that refuses to run without one is skipped here.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("add", help="add a new KEK and make it active")
        rotate = sub.add_parser("rotate", help="re-wrap every data key under the active KEK")
        rotate.add_argument("--batch-size", type=int, default=1000)
        retire = sub.add_parser("retire", help="remove a KEK that nothing uses any more")
        retire.add_argument("key_id")
        sub.add_parser("status", help="data keys per KEK")
        reindex = sub.add_parser(
            "reindex", help="rebuild blind indexes; --new-index-key rotates the index key"
        )
        reindex.add_argument("--new-index-key", action="store_true")
        reindex.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except CryptoError as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, options: dict[str, Any]) -> None:
        kek_id = keys.keys_add()
        self.stdout.write(f"added key {kek_id}; it is now active for new data keys.")
        self.stdout.write("Run 'keys rotate' to re-wrap existing data keys under it.")

    def _rotate(self, options: dict[str, Any]) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be positive")
        pending = keys.keys_pending_rotation()
        with tqdm(total=pending, desc="re-wrapping data keys", unit="key") as bar:
            done = keys.keys_rotate(batch_size=options["batch_size"], progress=bar.update)
        self.stdout.write(f"re-wrapped {done} data keys")

    def _reindex(self, options: dict[str, Any]) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be positive")
        from cases.models import Survivor

        total = Survivor.objects.filter(wrapped_dek__isnull=False).count()
        with tqdm(total=total, desc="rebuilding blind indexes", unit="survivor") as bar:
            key_id, done = keys.keys_reindex(
                new_index_key=options["new_index_key"],
                batch_size=options["batch_size"],
                progress=bar.update,
            )
        self.stdout.write(f"indexed {done} survivors under index key {key_id}")

    def _retire(self, options: dict[str, Any]) -> None:
        keys.keys_retire(options["key_id"])
        self.stdout.write(f"retired key {options['key_id']}")

    def _status(self, options: dict[str, Any]) -> None:
        for row in keys.keys_status():
            flags = " ".join(
                flag
                for flag, on in (
                    ("active", row.active),
                    ("MISSING-FROM-KEYRING", not row.in_keyring),
                )
                if on
            )
            self.stdout.write(f"{row.kek_id:<12} {row.data_keys:>9} data keys  {flags}".rstrip())
        index = get_provider()
        self.stdout.write(f"index key    {index.active_index_key_id()} active")
