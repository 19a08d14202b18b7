"""Logins, logouts and failed logins go to the trail (no username or password of a failed
attempt is kept: people type passwords into the username box)."""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit import log
from audit.models import Outcome
from audit.services import event_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    event_record(actor=user, action="auth.login")


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        event_record(actor=user, action="auth.logout")


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    event_record(actor=None, action="auth.login", outcome=Outcome.DENIED, reason="bad_credentials")


def _chain_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Every django-auditlog entry is queued for the same log as the access events, in
    the transaction that wrote it."""
    if created:
        log.append_change(instance.pk)


def connect_change_log() -> None:
    post_save.connect(_chain_change, sender=LogEntry, dispatch_uid="haven-chain-change")
