from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from tqdm import tqdm

from access import keys
from access.crypto import blind
from access.crypto.errors import CryptoError


def _bits(text: str) -> int:
    try:
        return blind.check_bits(int(text))
    except ValueError as exc:
        raise CommandError(f"--bits: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Keys: add, rotate, retire KEY_ID, status, reseal, reindex [--new-index-key] [--bits N], "
        "plan-index --population N."
    )
    # `keys add` must work before a keyring exists (first installation), and before
    # `migrate`, so the system check that refuses to run without one is skipped here.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("add", help="add a new KEK and make it active")
        rotate = sub.add_parser(
            "rotate", help="re-wrap every data key and stored key under the active KEK"
        )
        rotate.add_argument("--batch-size", type=int, default=1000)
        rotate.add_argument(
            "--from-keyring",
            type=Path,
            default=None,
            metavar="FILE",
            help="also open data keys wrapped by this keyring file's KEKs, so that all move "
            "under the configured provider's active KEK (file to HSM)",
        )
        retire = sub.add_parser("retire", help="remove a KEK that nothing uses any more")
        retire.add_argument("key_id")
        sub.add_parser("status", help="data keys per KEK, and the blind-index keys")
        reseal = sub.add_parser(
            "reseal",
            help="seal values written before format 2 again under their data key's field "
            "key (resumable)",
        )
        reseal.add_argument("--batch-size", type=int, default=500)
        reindex = sub.add_parser(
            "reindex",
            help="rebuild blind indexes; --new-index-key rotates the index key, --bits "
            "changes its truncation (under a new key)",
        )
        reindex.add_argument("--new-index-key", action="store_true")
        reindex.add_argument("--bits", type=_bits, default=None)
        reindex.add_argument("--batch-size", type=int, default=500)
        plan = sub.add_parser(
            "plan-index", help="recommend the blind-index truncation for a population"
        )
        plan.add_argument("--population", type=int, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        if options.get("batch_size", 1) < 1:  # rotate, reindex, reseal
            raise CommandError(_("--batch-size must be positive"))
        try:
            getattr(self, f"_{action}")(options)
        except CryptoError as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, options: dict[str, Any]) -> None:
        kek_id, recorded = keys.keys_add()
        self.stdout.write(f"added key {kek_id}; it is now active for new data keys.")
        if recorded:
            self.stdout.write("Run 'keys rotate' to re-wrap existing data keys under it.")
        else:
            self.stdout.write(
                "The database has no audit trail yet (run 'migrate' next); this first key "
                "is not recorded in it."
            )

    def _rotate(self, options: dict[str, Any]) -> None:
        if options["from_keyring"] is None:
            self._rotate_all(options)
            return
        with keys.previous_keyring(options["from_keyring"]):
            self._rotate_all(options)
        self.stdout.write(
            "Every key is now wrapped by the new provider. Check with 'keys status', then "
            f"destroy {options['from_keyring']} and every backup of it."
        )

    def _rotate_all(self, options: dict[str, Any]) -> None:
        pending = keys.keys_pending_rotation()
        with tqdm(total=pending, desc="re-wrapping keys", unit="key") as bar:
            done = keys.keys_rotate(batch_size=options["batch_size"], progress=bar.update)
        self.stdout.write(f"re-wrapped {done} data keys")

    def _reindex(self, options: dict[str, Any]) -> None:
        total = keys.survivors_to_index()
        with tqdm(total=total, desc="rebuilding blind indexes", unit="survivor") as bar:
            key_id, done = keys.keys_reindex(
                new_index_key=options["new_index_key"],
                bits=options["bits"],
                batch_size=options["batch_size"],
                progress=bar.update,
            )
        self.stdout.write(f"indexed {done} survivors under index key {key_id}")

    def _reseal(self, options: dict[str, Any]) -> None:
        total = keys.rows_to_reseal()
        with tqdm(total=total, desc="resealing values", unit="row") as bar:
            done = keys.keys_reseal(batch_size=options["batch_size"], progress=bar.update)
        self.stdout.write(
            f"resealed {done.values} values and {done.files} files in {done.rows} rows; "
            f"{done.shredded} rows of shredded survivors left as they are"
        )

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
            stored = f", {row.stored_keys} stored keys" if row.stored_keys else ""
            self.stdout.write(
                f"{row.kek_id:<12} {row.data_keys:>9} data keys{stored}  {flags}".rstrip()
            )
        for index in keys.index_status():
            state = "active" if index.active else "being built"
            plan = index.plan
            self.stdout.write(
                f"index key {index.key_id:<4} {index.bits:>2} bits, {state}: "
                f"{plan.population} survivors, about {plan.others_per_digest:.1f} others "
                f"share each digest"
            )
            if index.active and index.recommended != index.bits:
                self.stdout.write(
                    f"  for this population {index.recommended} bits would suit better: "
                    f"see 'keys plan-index --population {plan.population}'"
                )

    def _plan_index(self, options: dict[str, Any]) -> None:
        population = options["population"]
        if population < 1:
            raise CommandError(_("--population must be at least 1"))
        recommended = blind.recommended_bits(population)
        self.stdout.write(
            f"Blind-index truncation for {population:,} survivors "
            f"(aim: about {blind.TARGET_SHARING:.0f} others on each digest)\n"
        )
        self.stdout.write(
            f"{'bits':>4}  {'digests':>13}  {'others/digest':>13}  {'alone':>6}  "
            f"{'decrypts/search':>15}"
        )
        low, high = max(blind.MIN_BITS, recommended - 4), min(blind.MAX_BITS, recommended + 4)
        for bits in range(low, high + 1):
            plan = blind.IndexPlan(bits=bits, population=population)
            mark = "  <- recommended" if bits == recommended else ""
            self.stdout.write(
                f"{bits:>4}  {plan.digests:>13,}  {plan.others_per_digest:>13.1f}  "
                f"{plan.alone:>6.0%}  {plan.candidates_per_search:>15.1f}{mark}"
            )
        self.stdout.write(
            "\nFewer bits: more people share each digest, so a copied database cannot tell "
            "whether a given name is there, and each search decrypts more candidates.\n"
            "More bits: faster searches, but in a small population most digests point at "
            "one person.\n"
            f"Apply with: manage.py keys reindex --bits {recommended}"
        )
