"""The audit log with its signing key: sequencing, signed heads, proofs and the check.

``audit.log`` knows the tree and nothing of keys; this module hands it the signer held
by the key provider (``access.keystore``), and runs the sequencer in the background of
each app process: a short while after a transaction queues events, and once a minute in
any case. Sequencer runs serialise in PostgreSQL, so any number of processes and
servers may each run one; ``manage.py audit_sequencer`` runs one on its own. After
each run the new leaves are forwarded to the outside collectors, if any are set
(``audit.forward``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from access.keystore import tree_head_signer
from audit import forward, log, verification
from audit.models import PendingLeaf, TreeHead, Verification
from audit.services import event_record

logger = logging.getLogger("haven.audit")


def public_key_b64() -> str:
    return tree_head_signer().public_key_b64()


def sequence_now(
    *, wait: bool = True, progress: Callable[[int], None] | None = None
) -> log.Sequenced:
    """Put every queued event into the log now and sign the new head. Refuses (raises)
    when the signing key is unavailable: nothing enters the log unsigned."""
    return log.sequence(tree_head_signer(), wait=wait, progress=progress)


def current_head() -> TreeHead:
    """The newest signed head, after sequencing what is queued; for an empty log, a
    signed head of size 0."""
    sequence_now()
    head = log.latest_head()
    if head is None:
        head = log.sign_head(tree_head_signer(), 0, log.root_at(0))
    return head


def head_of_size(size: int) -> TreeHead:
    return log.head_of_size(tree_head_signer(), size)


def verify(
    *,
    saved: Sequence[verification.SavedHead] = (),
    progress: Callable[[int], None] | None = None,
    in_python: bool = False,
) -> verification.Verdict:
    """Sequence what is queued, then rebuild and check the whole log."""
    sequence_now()
    return verification.verify(
        tree_head_signer().public_key(), saved=saved, progress=progress, in_python=in_python
    )


# --- the scheduled check: its results are what the DPO's page and the API show ----------


def latest_check() -> Verification | None:
    """The newest finished check of the audit log."""
    return (
        Verification.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .first()
    )


def check_requested() -> Verification | None:
    """A full check asked for and not started yet."""
    return Verification.objects.filter(started_at__isnull=True).order_by("id").first()


def check_age(check: Verification | None) -> dt.timedelta:
    """How long ago the check finished (forever, if it has not)."""
    if check is None or check.finished_at is None:
        return dt.timedelta.max
    return timezone.now() - check.finished_at


def check_is_stale(check: Verification | None) -> bool:
    """The newest result is older than the schedule allows (the job is not running)."""
    return check_age(check) > dt.timedelta(minutes=2 * settings.HAVEN_AUDIT_CHECK_MINUTES + 1)


def request_check() -> Verification:
    """Ask for a fresh full check; the scheduled job runs it next (at once when this
    process runs the job). One request waits at a time."""
    run = check_requested() or Verification.objects.create(kind=Verification.Kind.FULL)
    if settings.HAVEN_AUDIT_SEQUENCER == "thread":
        _background.kick()
    return run


def _resume(check: Verification) -> verification.Resume:
    return verification.Resume(
        check.resume_from, tuple((level, bytes.fromhex(value)) for level, value in check.frontier)
    )


def run_check(
    kind: str,
    *,
    run: Verification | None = None,
    saved: Sequence[verification.SavedHead] = (),
    progress: Callable[[int], None] | None = None,
    in_python: bool = False,
) -> tuple[Verification, verification.Verdict]:
    """Check the log now and keep the result. An incremental check starts where the
    newest intact check stopped; after a broken result only full checks run, so a
    break is never hidden by checking only what came after it."""
    sequence_now()
    last = latest_check()
    resume = None
    if kind == Verification.Kind.INCREMENTAL and last is not None and last.intact:
        resume = _resume(last)
    else:
        kind = Verification.Kind.FULL
    run = run or Verification()
    run.kind, run.started_at = kind, timezone.now()
    run.save()
    verdict = verification.verify(
        tree_head_signer().public_key(),
        saved=saved,
        progress=progress,
        in_python=in_python,
        resume=resume,
        account=kind == Verification.Kind.FULL,
    )
    run.start, run.checked, run.intact = verdict.start, verdict.checked, verdict.intact
    run.first_broken, run.problem = verdict.first_broken, verdict.problem
    run.signed_size, run.pending = verdict.signed_size, verdict.pending
    if verdict.resume is not None:
        run.resume_from = verdict.resume.at
        run.frontier = [[level, value.hex()] for level, value in verdict.resume.frontier]
    run.finished_at = timezone.now()
    run.save()
    event_record(
        actor=None,
        action="audit.verify",
        reason="" if verdict.intact else "broken",
        detail={"checked": verdict.checked, "intact": verdict.intact, "kind": kind},
    )
    return run, verdict


def verify_if_due() -> Verification | None:
    """The scheduled job: a requested check first; else a full check when none has run
    for ``HAVEN_AUDIT_FULL_CHECK_HOURS``; else, if the newest result is intact and
    older than ``HAVEN_AUDIT_CHECK_MINUTES``, an incremental one. One process at a time;
    the others skip."""
    with verification.exclusive() as mine:
        if not mine:
            return None
        requested = check_requested()
        if requested is not None:
            return run_check(Verification.Kind.FULL, run=requested)[0]
        full = (
            Verification.objects.filter(kind=Verification.Kind.FULL, finished_at__isnull=False)
            .order_by("-finished_at")
            .first()
        )
        if check_age(full) >= dt.timedelta(hours=settings.HAVEN_AUDIT_FULL_CHECK_HOURS):
            return run_check(Verification.Kind.FULL)[0]
        last = latest_check()
        minutes = dt.timedelta(minutes=settings.HAVEN_AUDIT_CHECK_MINUTES)
        if last is not None and last.intact and check_age(last) >= minutes:
            return run_check(Verification.Kind.INCREMENTAL)[0]
    return None


# --- the background sequencer, one per process ------------------------------------------


class _Background:
    def __init__(self) -> None:
        self._kick = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kick(self, **_: Any) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="haven-audit-sequencer", daemon=True
                    )
                    self._thread.start()
        self._kick.set()

    def _run(self) -> None:
        delay = float(settings.HAVEN_AUDIT_SEQUENCE_SECONDS)
        while True:
            if self._kick.wait(timeout=60):
                time.sleep(delay)  # gather what arrives meanwhile
                self._kick.clear()
            try:
                sequence_now(wait=False)
            except Exception:  # keep running; the queue waits, the triggers protect it
                logger.exception("audit sequencer run failed")
            try:
                forward.forward_all()  # what is sequenced goes out (none configured: no-op)
            except Exception:  # the position stays; the next run sends the same leaves
                logger.exception("audit forwarding run failed")
            try:
                verify_if_due()  # the scheduled check, when it is this process's turn
            except Exception:  # the result stays old, and the page says it is stale
                logger.exception("scheduled audit log check failed")
            finally:
                close_old_connections()


_background = _Background()


def start_background() -> None:
    """Sequence in this process after each commit that queued events (settings:
    ``HAVEN_AUDIT_SEQUENCER = "thread"``, the default outside tests)."""
    if settings.HAVEN_AUDIT_SEQUENCER == "thread":
        log.leaves_queued.connect(
            _background.kick, sender=PendingLeaf, dispatch_uid="haven-sequencer"
        )
