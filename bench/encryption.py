"""The four encryption figures of docs/performance.md. Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from auditlog.registry import auditlog
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from access import keystore, policy
from access.crypto import blind
from access.crypto.comparison import FernetTextCodec
from access.crypto.fields import EncryptedField
from access.crypto.keyring import get_provider
from access.keys import keys_rotate
from access.models import User
from access.roles import Capability, Role
from access.services import staff_add
from audit.services import event_record
from bench.references import distinct_references
from cases import selectors, validators
from cases.models import BlindIndexEntry, Case, Encounter, Identity, Survivor
from cases.services import case_open, encounter_record
from cases.services.common import locked_case, require, require_recording

RNG = random.Random(7)  # noqa: S311  (synthetic data)


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


class PlainEncounter(models.Model):
    """Encounter's twin with plain columns: the baseline for the encryption overhead."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    case = models.ForeignKey(Case, on_delete=models.DO_NOTHING, related_name="+")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=20)
    location = models.TextField(null=True, blank=True)  # noqa: DJ001  (mirrors Encounter)
    interpreter_used = models.BooleanField(default=False)
    author = models.ForeignKey(User, on_delete=models.DO_NOTHING, related_name="+")
    notes = models.TextField(null=True, blank=True)  # noqa: DJ001  (mirrors Encounter)
    services_provided = models.JSONField(null=True, blank=True)
    follow_up_date = models.DateField(null=True, blank=True)
    clinical = models.JSONField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cases"
        db_table = "bench_plain_encounter"

    def __str__(self) -> str:
        return f"plain encounter {self.pk}"

    def clean(self) -> None:
        validators.validate_occurred_at(self.occurred_at)
        validators.validate_choices(
            "services_provided",
            self.services_provided or [],
            ["shelter", "medical", "legal", "food"],
        )


def plain_encounter_record(*, actor: User, case: Case, **fields: Any) -> PlainEncounter:
    """Every step of ``cases.services.encounter_record`` but the encryption: the same
    permission checks, row lock, follow-up refresh, access event and (the twin being
    followed by the change log like ``Encounter``, its same fields masked) change-log
    entry with its chain append, so the ratio measures the encryption alone."""
    require(actor, Capability.ENCOUNTER_WRITE)
    require_recording(case, care_critical=False)
    with transaction.atomic():
        current = locked_case(case)
        require_recording(current, care_critical=False)
        fields["services_provided"] = sorted(set(fields.get("services_provided") or [])) or None
        encounter = PlainEncounter(case=current, author=actor, **fields)
        encounter.full_clean()
        encounter.save(force_insert=True)
        latest = (
            PlainEncounter._default_manager.filter(case_id=current.pk)
            .order_by("-occurred_at", "-created_at")
            .values_list("follow_up_date", flat=True)
            .first()
        )
        if current.follow_up_on != latest:
            current.follow_up_on = latest
            current.save(update_fields=["follow_up_on"])
        event_record(
            actor=actor,
            action="encounter.create",
            case_reference=case.reference,
            detail={"clinical": fields.get("clinical") is not None, "care_critical": False},
        )
    return encounter


def _follow_twin() -> None:
    """The change log follows the twin as it follows ``Encounter``, with the fields that
    are encrypted there masked here."""
    masked = [f.name for f in Encounter._meta.concrete_fields if isinstance(f, EncryptedField)]
    auditlog.register(
        PlainEncounter, mask_fields=masked, mask_callable="audit.masking.constant_mask"
    )


def _encounter_fields() -> dict[str, Any]:
    return {
        "occurred_at": timezone.now() - dt.timedelta(hours=RNG.randint(1, 2000)),
        "kind": "follow_up",
        "notes": "Follow-up at the shelter; discussed next steps and appointments. " * 3,
        "location": "Shelter",
        "interpreter_used": True,
        "services_provided": ["shelter", "food"],
        "follow_up_date": timezone.localdate() + dt.timedelta(days=7),
        "clinical": None,
    }


def _staff(name: str, role: str) -> User:
    return staff_add(username=name, role=role, team_slug="bench")[0]


def overhead(total: int) -> None:
    with connection.schema_editor() as editor:
        editor.create_model(PlainEncounter)
    _follow_twin()
    worker = _staff("bench-worker", Role.CASEWORKER)
    per_case = 100
    cases = [
        case_open(actor=worker, identity={}, declined=[], risk_level="low", trafficking_types=[])
        for _ in range(max(1, total // per_case))
    ]
    plan = [(cases[i % len(cases)], _encounter_fields()) for i in range(total)]

    def create(record: Any, chunk: list[tuple[Case, dict[str, Any]]]) -> float:
        start = time.perf_counter()
        for case, fields in chunk:
            record(actor=worker, case=case, **fields)
        return time.perf_counter() - start

    def read(plain: bool, through_policy: bool) -> float:
        start = time.perf_counter()
        for case in cases:
            if through_policy:  # the real read path: policy check + access event + selector
                fresh = policy.case_for_read(worker, case.reference, action="encounter.list")
            else:
                fresh = Case.objects.select_related("survivor").get(pk=case.pk)
            rows: Any = (
                PlainEncounter._default_manager.filter(case=fresh)
                .select_related("author")
                .order_by("-occurred_at", "-created_at")
                if plain
                else selectors.encounters_for(case=fresh)
            )
            for e in rows:
                # Touch every field (decrypting it); keep nothing, so the heap does not
                # grow from run to run and make later runs pay for garbage collection.
                _ = (e.notes, e.location, e.services_provided, e.clinical, e.author.username)
        return time.perf_counter() - start

    # Plain and encrypted alternate in chunks, so that a busy moment on the machine (a
    # shared VM) hits both alike.
    plain_create = enc_create = 0.0
    step = max(1, total // 10)
    for offset in range(0, total, step):
        chunk = plan[offset : offset + step]
        plain_create += create(plain_encounter_record, chunk)
        enc_create += create(encounter_record, chunk)
    # Medians of 7 interleaved runs (plain and encrypted alternate, so that a busy
    # moment on the machine hits both alike).
    results = {}
    for through_policy in (True, False):
        pairs = [(read(True, through_policy), read(False, through_policy)) for _ in range(7)]
        results[through_policy] = (
            statistics.median(p for p, _ in pairs),
            statistics.median(e for _, e in pairs),
        )
    _line(
        f"create {total} encounters, plain fields (service layer)", f"{total / plain_create:,.0f}/s"
    )
    _line(f"create {total} encounters, encrypted fields", f"{total / enc_create:,.0f}/s")
    for through_policy, label in ((True, "policy+event+selector"), (False, "selector only")):
        plain_read, enc_read = results[through_policy]
        _line(f"read {total} encounters ({label}), plain", f"{total / plain_read:,.0f}/s")
        _line(f"read {total} encounters ({label}), encrypted", f"{total / enc_read:,.0f}/s")
    plain_read, enc_read = results[True]
    bare_plain, bare_enc = results[False]
    _line("1. encrypted/plain throughput, create", f"{plain_create / enc_create:.1%}", ">= 85%")
    _line(
        "1. encrypted/plain throughput, read (real path)", f"{plain_read / enc_read:.1%}", ">= 85%"
    )
    _line(
        "1. encrypted/plain throughput, create + read (real path)",
        f"{(plain_create + plain_read) / (enc_create + enc_read):.1%}",
        ">= 85%",
    )
    _line(
        "   encrypted/plain, read, selector only (pure decode cost)", f"{bare_plain / bare_enc:.1%}"
    )


def cipher(rounds: int = 20_000) -> None:
    worker = _staff("bench-cipher", Role.CASEWORKER)
    case = case_open(actor=worker, identity={}, declined=[], risk_level="low", trafficking_types=[])
    encounter = Encounter(case=case, author=worker)
    field = Encounter._meta.get_field("notes")
    value = "x" * 200
    fernet = FernetTextCodec(os.urandom(32))

    def haven() -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            field.open(encounter, field.seal(encounter, value).blob)
        return (time.perf_counter() - start) / rounds

    def fernet_field() -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            fernet.decrypt(fernet.encrypt(value))
        return (time.perf_counter() - start) / rounds

    # Interleaved, so that a busy moment on the machine hits both alike.
    pairs = [(haven(), fernet_field()) for _ in range(7)]
    haven_cost = statistics.median(h for h, _ in pairs)
    fernet_cost = statistics.median(f for _, f in pairs)
    _line("Haven field layer, encrypt+decrypt 200 bytes", f"{haven_cost * 1e6:.2f} us")
    _line("Fernet field, encrypt+decrypt 200 bytes", f"{fernet_cost * 1e6:.2f} us")
    _line("2. Haven speed-up over Fernet", f"{fernet_cost / haven_cost:.1f}x", "target >= 3x")


FAMILY_POOL = 20_000


def _family(i: int) -> str:
    return f"Benchfamily-{i % FAMILY_POOL:05d}"


def seed_survivors(total: int, batch: int = 2000) -> None:
    supervisor = _staff("bench-supervisor", Role.SUPERVISOR)
    team_id = supervisor.team_id
    if team_id is None:
        raise SystemExit("bench supervisor has no team")
    start = time.perf_counter()
    index_keys = keystore.index_keys()
    references = distinct_references()
    for offset in tqdm(range(0, total, batch), desc="seeding survivors", unit="batch"):
        survivors, identities, cases, entries = [], [], [], []
        for i in range(offset, min(total, offset + batch)):
            survivor = Survivor.with_new_key(next(references))
            identity = Identity(
                survivor=survivor,
                given_name=f"Given{i % 997}",
                family_name=_family(i),
                date_of_birth=dt.date(1960 + i % 45, 1 + i % 12, 1 + i % 28),
                phone=f"+44 7700 {i:06d}",
            )
            survivors.append(survivor)
            identities.append(identity)
            cases.append(
                Case(survivor=survivor, team_id=team_id, risk_level="low", created_by=supervisor)
            )
            for name in blind.INDEXED_FIELDS:
                normalised = blind.normalise(name, getattr(identity, name))
                if normalised is None:
                    continue
                for key in index_keys:
                    entries.append(
                        BlindIndexEntry(
                            survivor=survivor,
                            field=name,
                            key_id=key.key_id,
                            digest=key.digest(name, normalised),
                        )
                    )
        with transaction.atomic():
            Survivor.objects.bulk_create(survivors)
            Identity.objects.bulk_create_unlogged(identities)
            Case.objects.bulk_create_unlogged(cases)
            BlindIndexEntry.objects.bulk_create(entries)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _line(
        f"seeded {total} survivors (identity, case, blind indexes)",
        f"{time.perf_counter() - start:.1f} s",
    )


def search(queries: int) -> None:
    supervisor = User.objects.get(username="bench-supervisor")
    total = Survivor.objects.count()
    names = [_family(RNG.randrange(total)) for _ in range(queries)]
    selectors.case_search_for(user=supervisor, criteria={"family_name": names[0]})  # warm-up
    timings, hits = [], []
    for name in names:
        start = time.perf_counter()
        found = selectors.case_search_for(user=supervisor, criteria={"family_name": name})
        timings.append(time.perf_counter() - start)
        hits.append(len(found))
    blind_median = statistics.median(timings)
    start = time.perf_counter()
    scan_hits = [
        identity.survivor_id
        for identity in Identity.objects.select_related("survivor").iterator(chunk_size=2000)
        if blind.matches("family_name", names[0], identity.family_name)
    ]
    scan = time.perf_counter() - start
    assert len(scan_hits) == hits[0], "blind index and scan disagree"  # noqa: S101
    _line(
        f"blind-index family-name search, {total} survivors, median",
        f"{blind_median * 1e3:.2f} ms",
        "target < 20 ms",
    )
    _line(
        "  (p95; matches per name)",
        f"{sorted(timings)[int(len(timings) * 0.95) - 1] * 1e3:.2f} ms",
        f"{statistics.mean(hits):.1f} matches",
    )
    _line(f"decrypt-and-compare scan over {total} survivors", f"{scan * 1e3:,.0f} ms")
    _line("3. blind index speed-up over scan", f"{scan / blind_median:,.0f}x", "target >= 100x")


def rotate(total: int) -> None:
    provider = get_provider()
    provider.add_kek()  # type: ignore[attr-defined]
    start = time.perf_counter()
    done = keys_rotate()
    elapsed = time.perf_counter() - start
    _line(
        f"4. keys rotate, {done} data keys (in process)",
        f"{done / elapsed:,.0f}/s",
        "target >= 5,000/s",
    )
    manage = [sys.executable, "manage.py", "keys"]
    baseline = _child_peak_rss(manage + ["status"])
    provider.add_kek()  # type: ignore[attr-defined]
    start = time.perf_counter()
    peak = _child_peak_rss(manage + ["rotate"])
    elapsed = time.perf_counter() - start
    _line(f"   manage.py keys rotate, {total} keys, wall incl. start-up", f"{elapsed:.1f} s")
    _line(
        "   peak RSS: keys status (Django loaded) vs keys rotate",
        f"{baseline} vs {peak} MiB",
        "memory flat: batches of 1,000",
    )


def _child_peak_rss(command: list[str]) -> int:
    """Peak RSS of one child process in MiB (measured in a fresh grandchild, so earlier
    children do not mask it)."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip()) // 1024
