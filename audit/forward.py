"""Forwarding the audit log, as it is sequenced, to collectors outside the server: an
RFC 5424 syslog receiver over TCP or TLS (``HAVEN_SYSLOG_URL``) and a FHIR server that
stores AuditEvents (``HAVEN_FHIR_AUDIT_URL``).

Delivery is at least once and in log order. Each destination has a position
(``ForwardPosition``): the leaves below it were accepted. A run locks its position row
(only forwarders ever take that lock; requests never wait for it), reads the next
leaves with their records, sends them, and advances the position in the same
transaction only after the collector took them. A failure leaves the position where it
was and the next run sends the same leaves again, under the same leaf index (the FHIR
resources are put at an id made from it, so they replace themselves). Several
forwarders, on one server or several, skip a destination another is delivering to.

What is sent is what the record holds: references and ids, never a name or content;
for a change-log entry, which fields changed, never their values.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import balp, log, rfc5424
from audit.log import LeafRecord
from audit.models import ForwardPosition

logger = logging.getLogger("haven.audit")


class DeliveryFailed(Exception):
    """The collector did not take the leaves. The message names the kind of failure,
    never a record's content."""


class Destination(Protocol):
    name: str

    def send(self, records: Sequence[LeafRecord]) -> None: ...


def _tls_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SyslogDestination:
    """RFC 5424 over TCP with octet-counting framing (RFC 6587), optionally in TLS
    (RFC 5425). ``tcp://host:port`` or ``tls://host:port``."""

    name = "syslog"

    def __init__(self, url: str, *, ca_file: str = "", hostname: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("tcp", "tls") or not parts.hostname:
            raise ValueError("HAVEN_SYSLOG_URL must be tcp://host:port or tls://host:port")
        self.host = parts.hostname
        self.port = parts.port or (6514 if parts.scheme == "tls" else 601)
        self.context = _tls_context(ca_file) if parts.scheme == "tls" else None
        self.hostname = hostname
        self.timeout = timeout

    def send(self, records: Sequence[LeafRecord]) -> None:
        data = b"".join(
            rfc5424.framed(rfc5424.message(record, hostname=self.hostname)) for record in records
        )
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
                if self.context is None:
                    raw.sendall(data)
                    raw.shutdown(socket.SHUT_WR)
                    return
                with self.context.wrap_socket(raw, server_hostname=self.host) as tls:
                    tls.sendall(data)
                    try:
                        tls.unwrap()  # close_notify, so the receiver reads to the end
                    except OSError:
                        pass  # sent already; a receiver need not answer close_notify
        except ssl.SSLError as exc:
            raise DeliveryFailed(f"syslog TLS failed: {exc.reason or type(exc).__name__}") from exc
        except OSError as exc:
            raise DeliveryFailed(f"syslog connection failed: {type(exc).__name__}") from exc


class FhirDestination:
    """AuditEvents (IHE BALP) in batch bundles posted to a FHIR server's base URL."""

    name = "fhir"

    def __init__(
        self, url: str, *, source: str, ca_file: str = "", token_file: str = "", timeout: float
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("HAVEN_FHIR_AUDIT_URL must be an http(s) URL")
        self.url = url.rstrip("/")
        self.source = source
        self.context = _tls_context(ca_file) if parts.scheme == "https" else None
        self.token = Path(token_file).read_text().strip() if token_file else ""
        self.timeout = timeout

    def send(self, records: Sequence[LeafRecord]) -> None:
        bundle = balp.batch([balp.audit_event(r, source=self.source) for r in records])
        headers = {
            "Content-Type": "application/fhir+json; charset=utf-8",
            "Accept": "application/fhir+json",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.url, data=json.dumps(bundle).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=self.context
            ) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"FHIR server answered {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise DeliveryFailed(f"FHIR server unreachable: {type(exc).__name__}") from exc
        entries = answer.get("entry") if isinstance(answer, dict) else None
        if not isinstance(entries, list) or len(entries) != len(records):
            raise DeliveryFailed("FHIR server did not answer with a batch-response bundle")
        for entry in entries:
            status = str((entry.get("response") or {}).get("status", ""))
            if not status[:1] == "2":
                raise DeliveryFailed(f"FHIR server refused an AuditEvent ({status[:20]})")


def destinations() -> list[Destination]:
    """The collectors the settings name (none by default)."""
    timeout = float(settings.HAVEN_FORWARD_TIMEOUT_SECONDS)
    source = settings.HAVEN_AUDIT_SOURCE
    out: list[Destination] = []
    if settings.HAVEN_SYSLOG_URL:
        out.append(
            SyslogDestination(
                settings.HAVEN_SYSLOG_URL,
                ca_file=settings.HAVEN_SYSLOG_CA,
                hostname=source,
                timeout=timeout,
            )
        )
    if settings.HAVEN_FHIR_AUDIT_URL:
        out.append(
            FhirDestination(
                settings.HAVEN_FHIR_AUDIT_URL,
                source=source,
                ca_file=settings.HAVEN_FHIR_AUDIT_CA,
                token_file=settings.HAVEN_FHIR_AUDIT_TOKEN_FILE,
                timeout=timeout,
            )
        )
    return out


@dataclass(frozen=True)
class Forwarded:
    destination: str
    sent: int
    position: int
    error: str = ""
    skipped: bool = False  # another forwarder was delivering to it


def _position_row(name: str) -> None:
    if not ForwardPosition.objects.filter(destination=name).exists():
        try:
            with transaction.atomic():
                ForwardPosition.objects.create(destination=name)
        except IntegrityError:
            pass  # another forwarder made it first


def _step(destination: Destination, batch: int) -> Forwarded:
    with transaction.atomic():
        row = (
            ForwardPosition.objects.select_for_update(skip_locked=True)
            .filter(destination=destination.name)
            .first()
        )
        if row is None:
            return Forwarded(destination.name, 0, -1, skipped=True)
        records = log.leaf_records(row.position, batch)
        if not records:
            return Forwarded(destination.name, 0, row.position)
        try:
            destination.send(records)
        except DeliveryFailed as exc:
            row.failures += 1
            row.last_error = str(exc)[:200]
            row.save(update_fields=["failures", "last_error"])
            return Forwarded(destination.name, 0, row.position, error=row.last_error)
        row.position = records[-1].index + 1
        row.failures, row.last_error, row.updated_at = 0, "", timezone.now()
        row.save(update_fields=["position", "failures", "last_error", "updated_at"])
        return Forwarded(destination.name, len(records), row.position)


def forward(
    destination: Destination,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> Forwarded:
    """Send every sequenced leaf the destination has not taken yet, in batches. Stops at
    the first failure (the next run starts from the same leaf)."""
    _position_row(destination.name)
    sent = 0
    while True:
        step = _step(destination, batch)
        sent += step.sent
        if progress is not None and step.sent:
            progress(step.sent)
        if step.error:
            logger.warning("audit forwarding to %s failed: %s", destination.name, step.error)
        if step.skipped or step.error or not step.sent:
            return Forwarded(destination.name, sent, step.position, step.error, step.skipped)


def forward_all(*, progress: Callable[[int], None] | None = None) -> list[Forwarded]:
    return [forward(d, progress=progress) for d in destinations()]


def positions() -> list[ForwardPosition]:
    return list(ForwardPosition.objects.order_by("destination"))
