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

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from access.keystore import tree_head_signer
from audit import forward, log, verification
from audit.models import PendingLeaf, TreeHead

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
