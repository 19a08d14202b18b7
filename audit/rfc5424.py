"""The audit log as RFC 5424 syslog messages, framed for TCP by octet counting
(RFC 6587 section 3.4.1), one message per leaf.

A message carries what the record carries, which is references and ids only (never a
name, content or search value), plus the leaf's index and hash so that a collector can
tie it to the signed tree heads::

    <110>1 2026-11-23T10:00:00.123456Z host haven - case.read [haven@32473 leaf="7"
    hash="…" kind="event" outcome="allowed" actor="3" user="amal" role="caseworker"
    case="HVN-7K2QX9" reason="assigned" ip="10.0.0.5" request="…"] {"detail": …}

The structured-data id uses 32473, the private enterprise number reserved for
documentation (RFC 5612); an organisation with its own number can ask its collector to
map it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.contrib.contenttypes.models import ContentType

from audit.log import LeafRecord

SD_ID = "haven@32473"
APP_NAME = "haven"
FACILITY = 13  # log audit
INFORMATIONAL, WARNING, CRITICAL = 6, 4, 2
BOM = "\ufeff"
CHANGE_ACTIONS = {0: "change.create", 1: "change.update", 2: "change.delete", 3: "change.access"}

_NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")


def _header_field(value: str, limit: int) -> str:
    """A header field is printable US-ASCII without spaces, or "-" when empty."""
    cleaned = _NOT_PRINTABLE.sub("_", value)[:limit]
    return cleaned or "-"


def _param(value: Any) -> str:
    """An SD-PARAM value: UTF-8, with '"', '\\' and ']' escaped."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _timestamp(value: Any) -> str:
    at: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def model_label(content_type_id: int) -> str:
    """``app_label.model`` of a change-log entry's model (cached by Django)."""
    kind = ContentType.objects.get_for_id(content_type_id)
    return f"{kind.app_label}.{kind.model}"


def _severity(record: LeafRecord) -> int:
    fields = record.fields
    if record.kind == "event" and fields["action"] == "crypto.decrypt_failed":
        return CRITICAL
    if record.kind == "event" and fields["outcome"] == "denied":
        return WARNING
    return INFORMATIONAL


def message(record: LeafRecord, *, hostname: str) -> str:
    """One RFC 5424 message (without framing)."""
    fields = record.fields
    params: list[tuple[str, Any]] = [
        ("leaf", record.index),
        ("hash", record.hash.hex()),
        ("kind", record.kind),
    ]
    if record.kind == "event":
        at, msgid = fields["at"], fields["action"]
        params += [
            ("outcome", fields["outcome"]),
            ("actor", fields["actor_id"]),
            ("user", fields["actor_username"]),
            ("role", fields["actor_role"]),
            ("case", fields["case_reference"]),
            ("reason", fields["reason"]),
            ("ip", fields["ip"]),
            ("request", fields["request_id"]),
        ]
        body: dict[str, Any] = {"detail": fields["detail"] or {}}
    else:
        at, msgid = fields["timestamp"], CHANGE_ACTIONS.get(fields["action"], "change")
        params += [
            ("actor", fields["actor_id"]),
            ("type", model_label(fields["content_type_id"])),
            ("object", fields["object_pk"]),
        ]
        changes = fields["changes"] or {}
        if isinstance(changes, str):
            changes = json.loads(changes)
        body = {"fields": sorted(changes)}  # which fields changed, never their values
    structured = "[{} {}]".format(
        SD_ID,
        " ".join(f'{name}="{_param(value)}"' for name, value in params if value not in (None, "")),
    )
    priority = FACILITY * 8 + _severity(record)
    header = " ".join(
        [
            f"<{priority}>1",
            _timestamp(at),
            _header_field(hostname, 255),
            APP_NAME,
            "-",
            _header_field(msgid, 32),
        ]
    )
    payload = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{header} {structured} {BOM}{payload}"


def framed(text: str) -> bytes:
    """Octet counting: the message's length in bytes, a space, the message."""
    data = text.encode("utf-8")
    return b"%d %s" % (len(data), data)
