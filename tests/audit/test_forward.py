"""Forwarding the audit log to collectors outside the server, as it is sequenced: RFC
5424 syslog over TCP and TLS to a receiver the tests start on loopback, and FHIR
AuditEvents (IHE BALP, Privacy Disclosure for referrals and access packages) to a FHIR
endpoint the tests start, checked by the two outside validators CI runs. Delivery is at
least once and in order; what goes out holds no survivor data. AS9-USE-2, AS9-USE-3.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from fhir.resources.R4B.auditevent import AuditEvent

from access import ledger
from access.services import grant_assign
from audit import balp, forward
from audit.models import ForwardPosition, LogLeaf, Outcome
from audit.services import event_record
from cases.services import (
    consent_record,
    organisation_add,
    referral_download,
    referral_export,
)
from tests.factories import MARKERS
from tests.helpers import fhir_validation

pytestmark = pytest.mark.django_db

# RFC 5424 section 6: HEADER SP STRUCTURED-DATA [SP MSG]
SYSLOG = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}Z) "
    r"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
    r"(?P<msgid>[!-~]{1,32}) (?P<sd>\[haven@32473(?: [a-z]+=\"(?:[^\"\\\]]|\\.)*\")*\]) "
    r"\ufeff(?P<msg>.*)$",
    re.DOTALL,
)
SD_PARAM = re.compile(r'([a-z]+)="((?:[^"\\\]]|\\.)*)"')


class SyslogReceiver:
    """A collector on loopback that reads octet-counted RFC 5424 frames (RFC 6587),
    in plain TCP or in TLS."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.messages: list[str] = []
        self.errors: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _read_frames(self, stream: Any) -> None:
        buffer = b""
        while True:
            chunk = stream.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while b" " in buffer:
                length, _, rest = buffer.partition(b" ")
                if not length.isdigit():
                    self.errors.append(f"bad frame length {length[:20]!r}")
                    return
                if len(rest) < int(length):
                    break
                self.messages.append(rest[: int(length)].decode("utf-8"))
                buffer = rest[int(length) :]
        if buffer:
            self.errors.append(f"{len(buffer)} bytes left over")

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self._done.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                stream = conn
                if self.context is not None:
                    stream = self.context.wrap_socket(conn, server_side=True)
                self._read_frames(stream)
            except (ssl.SSLError, OSError) as exc:
                self.errors.append(type(exc).__name__)
            finally:
                conn.close()

    def close(self) -> None:
        self._done.set()
        self.server.close()
        self._thread.join(timeout=5)

    def parsed(self, expect: int = 0) -> list[dict[str, Any]]:
        """The messages, once at least ``expect`` have arrived (the receiving thread
        may still be reading when the sender is done)."""
        deadline = time.monotonic() + 10
        while len(self.messages) < expect and time.monotonic() < deadline:
            time.sleep(0.02)
        out = []
        for text in self.messages:
            match = SYSLOG.match(text)
            assert match, f"not RFC 5424: {text[:200]}"
            params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in SD_PARAM.findall(match["sd"])}
            out.append({**match.groupdict(), "params": params, "body": json.loads(match["msg"])})
        return out


class FhirReceiver:
    """A FHIR endpoint on loopback that takes batch bundles of AuditEvents, keeps each
    at its id, and answers with a batch-response (or with ``fail_with``)."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.bundles: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.headers.append(dict(self.headers))
                if receiver.fail_with:
                    self.send_response(receiver.fail_with)
                    self.end_headers()
                    return
                receiver.bundles.append(body)
                entries = []
                for entry in body["entry"]:
                    resource = entry["resource"]
                    existed = resource["id"] in receiver.stored
                    receiver.stored[resource["id"]] = resource
                    entries.append({"response": {"status": "200 OK" if existed else "201 Created"}})
                answer = json.dumps(
                    {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def syslog(settings) -> Iterator[SyslogReceiver]:
    receiver = SyslogReceiver()
    settings.HAVEN_SYSLOG_URL = f"tcp://127.0.0.1:{receiver.port}"
    settings.HAVEN_AUDIT_SOURCE = "haven-test"
    yield receiver
    receiver.close()


@pytest.fixture
def fhir_server(settings) -> Iterator[FhirReceiver]:
    receiver = FhirReceiver()
    settings.HAVEN_FHIR_AUDIT_URL = receiver.url
    settings.HAVEN_AUDIT_SOURCE = "haven-test"
    yield receiver
    receiver.close()


@pytest.fixture
def history(trail, caseworker, clinician, supervisor, make_staff, api):
    """The audit trail (intake, reads, an edit), then a denied read, and a referral
    exported and downloaded: all sequenced."""
    case = trail
    organisation_add(actor=supervisor, name="Riverside Clinic", slug="riverside")
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    outsider = make_staff()
    assert api(outsider).get(f"/api/v1/cases/{case.reference}/identity/").status_code in (403, 404)
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="riverside",
        purpose="Continuing care",
        method="written",
        interpreter_used=False,
        given_at=timezone.now() - dt.timedelta(hours=1),
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    referral, _ = referral_export(
        actor=clinician,
        case=case,
        recipient_slug="riverside",
        purpose="Continuing care",
        sections=["summary", "encounters"],
        include_identity=False,
        fmt="fhir",
    )
    referral_download(actor=clinician, referral_id=referral.pk)
    ledger.sequence_now()
    return case


def _leaves() -> list[tuple[int, bytes]]:
    return [
        (i, bytes(h)) for i, h in LogLeaf.objects.order_by("index").values_list("index", "hash")
    ]


def _no_survivor_data(text: str) -> None:
    for marker in MARKERS.values():
        assert marker not in text


def test_every_leaf_goes_to_syslog_in_order_as_rfc5424_without_content(history, syslog):
    """AS9-USE-2: the trail is kept outside the server too, leaf by leaf."""
    results = forward.forward_all()
    assert [(r.destination, r.error) for r in results] == [("syslog", "")]
    leaves = _leaves()
    messages = syslog.parsed(len(_leaves()))
    assert syslog.errors == []
    assert [int(m["params"]["leaf"]) for m in messages] == [i for i, _ in leaves]
    assert [m["params"]["hash"] for m in messages] == [h.hex() for _, h in leaves]
    read = next(m for m in messages if m["msgid"] == "case.view")
    assert read["pri"] == str(13 * 8 + 6)  # log audit, informational
    assert read["app"] == "haven" and read["host"] == "haven-test"
    assert read["params"]["case"] == history.reference and read["params"]["outcome"] == "allowed"
    denied = next(m for m in messages if m["params"].get("outcome") == "denied")
    assert denied["pri"] == str(13 * 8 + 4)  # warning
    change = next(m for m in messages if m["params"]["kind"] == "change")
    assert change["msgid"].startswith("change.") and isinstance(change["body"]["fields"], list)
    _no_survivor_data("\n".join(syslog.messages))
    assert ForwardPosition.objects.get(destination="syslog").position == len(leaves)

    # nothing new: nothing sent; new events: only they are sent
    assert forward.forward_all()[0].sent == 0
    before = len(syslog.messages)
    call_command("audit_sequencer", "--once", stdout=StringIO(), stderr=StringIO())
    assert len(syslog.messages) == before


def test_a_collector_that_is_down_gets_everything_when_it_is_back(history, settings):
    """At least once: a failure keeps the position; the next run resends from it."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here now
    settings.HAVEN_SYSLOG_URL = f"tcp://127.0.0.1:{port}"
    result = forward.forward_all()[0]
    assert result.sent == 0 and "connection failed" in result.error
    row = ForwardPosition.objects.get(destination="syslog")
    assert row.position == 0 and row.failures == 1 and "ConnectionRefusedError" in row.last_error
    with pytest.raises(CommandError):
        call_command("audit_forward", stdout=StringIO(), stderr=StringIO())

    receiver = SyslogReceiver()
    try:
        settings.HAVEN_SYSLOG_URL = f"tcp://127.0.0.1:{receiver.port}"
        out = StringIO()
        call_command("audit_forward", stdout=out, stderr=StringIO())
        assert f"syslog: {len(_leaves())} sent" in out.getvalue()
        assert [int(m["params"]["leaf"]) for m in receiver.parsed(len(_leaves()))] == [
            i for i, _ in _leaves()
        ]
        row.refresh_from_db()
        assert row.failures == 0 and row.last_error == ""
        status = StringIO()
        call_command("audit_forward", "--status", stdout=status)
        assert f"{len(_leaves())} of {len(_leaves())} leaves sent" in status.getvalue()
    finally:
        receiver.close()


def _self_signed(name: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A CA certificate for 127.0.0.1, good for a day."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The collector's certificate and key, and another CA that did not sign it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert_path, key_path = tmp_path / "collector.pem", tmp_path / "collector.key"
    cert_path.write_bytes(_self_signed(name, key).public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    other = tmp_path / "other-ca.pem"
    other_cert = _self_signed(name, ec.generate_private_key(ec.SECP256R1()))
    other.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, other


def test_syslog_over_tls_checks_the_collector(history, settings, tmp_path):
    """RFC 5425: a collector whose certificate the CA file does not vouch for gets
    nothing; the right one gets every leaf."""
    cert, key, other_ca = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver = SyslogReceiver(context)
    try:
        settings.HAVEN_SYSLOG_URL = f"tls://127.0.0.1:{receiver.port}"
        settings.HAVEN_SYSLOG_CA = str(other_ca)
        result = forward.forward_all()[0]
        assert result.sent == 0 and "TLS" in result.error
        assert receiver.messages == []

        settings.HAVEN_SYSLOG_CA = str(cert)
        result = forward.forward_all()[0]
        assert result.error == "" and result.sent == len(_leaves())
        assert [int(m["params"]["leaf"]) for m in receiver.parsed(len(_leaves()))] == [
            i for i, _ in _leaves()
        ]
        _no_survivor_data("\n".join(receiver.messages))
    finally:
        receiver.close()


def test_fhir_audit_events_follow_balp_and_pass_both_validators(history, fhir_server):
    """AS9-USE-3: AuditEvents a FHIR audit repository accepts, checked by the official
    R4 JSON schema, @medplum/core and fhir.resources; referrals are Privacy
    Disclosures naming the recipient."""
    result = forward.forward_all()[0]
    assert result.error == "" and result.sent == len(_leaves())
    events = [fhir_server.stored[balp.resource_id("haven-test", i)] for i, _ in _leaves()]
    assert fhir_server.headers[0]["Content-Type"].startswith("application/fhir+json")
    assert all(b["type"] == "batch" for b in fhir_server.bundles)
    assert all(e["request"]["method"] == "PUT" for b in fhir_server.bundles for e in b["entry"])

    broken = {key: value for key, value in events[0].items() if key != "type"}
    broken["outcome"] = "zero"
    report = fhir_validation([*fhir_server.bundles, *events, broken])
    caught = report.pop()
    assert caught["schema"] and caught["medplum"]  # the check below can fail
    problems = [r for r in report if r["schema"] or r["medplum"]]
    assert problems == [], problems[:3]
    for resource in events:
        AuditEvent.model_validate(resource)

    for (index, leaf_hash), resource in zip(_leaves(), events, strict=True):
        leaf = next(e for e in resource["entity"] if e["what"]["identifier"]["value"] == str(index))
        assert leaf["detail"][0] == {
            "type": "leaf-hash",
            "valueBase64Binary": base64.b64encode(leaf_hash).decode(),
        }

    def of(action: str) -> list[dict]:
        return [e for e in events if any(c["code"] == action for c in e.get("subtype", []))]

    read = of("case.view")[0]
    assert read["meta"]["profile"] == [balp.BALP + "PatientRead"]
    assert read["type"]["code"] == "rest" and read["action"] == "R" and read["outcome"] == "0"
    assert read["entity"][0]["what"]["identifier"]["value"] == history.reference
    assert read["entity"][0]["role"]["code"] == "1"  # patient
    denied = [e for e in events if e["outcome"] == "4"]
    assert denied and all("profile" not in e.get("meta", {}) for e in denied)

    for action in ("referral.export", "referral.download"):
        (disclosure,) = of(action)
        assert disclosure["meta"]["profile"] == [balp.BALP + "PrivacyDisclosure.Source"]
        assert disclosure["type"] == {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110106",
            "display": "Export",
        }
        assert disclosure["subtype"][0]["code"] == "disclose"
        recipient = next(
            a for a in disclosure["agent"] if a["type"]["coding"][0]["code"] == "110152"
        )
        assert recipient["who"]["identifier"]["value"] == "riverside"

    changes = [e for e in events if e["subtype"][1]["code"].startswith("change.")]
    assert changes
    _no_survivor_data(json.dumps(events, ensure_ascii=False))


def test_a_subject_access_package_is_a_privacy_disclosure_to_the_survivor():
    """The package goes to the survivor: the recipient agent names their case."""
    record = forward.LeafRecord(
        index=3,
        kind="event",
        ref_id=9,
        hash=b"\x01" * 32,
        fields={
            "at": dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
            "actor_id": 4,
            "actor_username": "amal",
            "actor_role": "caseworker",
            "action": "subject_request.download",
            "case_reference": "HVN-7K2QX9",
            "outcome": "allowed",
            "reason": "",
            "ip": "10.0.0.5",
            "user_agent": "Firefox",
            "request_id": "r1",
            "detail": {"format": "pdf"},
        },
    )
    resource = balp.audit_event(record, source="haven-test")
    assert resource["meta"]["profile"] == [balp.BALP + "PrivacyDisclosure.Source"]
    recipient = resource["agent"][1]
    assert recipient["who"]["identifier"]["value"] == "HVN-7K2QX9"
    assert fhir_validation([resource]) == [
        {"resourceType": "AuditEvent", "schema": [], "medplum": []}
    ]


def test_a_fhir_server_that_refuses_keeps_the_position_and_a_resend_replaces(history, fhir_server):
    fhir_server.fail_with = 503
    result = forward.forward_all()[0]
    assert result.sent == 0 and result.error == "FHIR server answered 503"
    assert ForwardPosition.objects.get(destination="fhir").position == 0
    fhir_server.fail_with = None
    assert forward.forward_all()[0].sent == len(_leaves())
    # a lost acknowledgement: the same leaves are sent again and replace themselves
    ForwardPosition.objects.filter(destination="fhir").update(position=0)
    forward.forward_all()
    assert len(fhir_server.stored) == len(_leaves())


@pytest.mark.django_db(transaction=True)
def test_two_forwarders_never_send_the_same_leaves_at_once(syslog):
    """A second forwarder skips a destination the first is delivering to: the lock is
    on the position row, which no request ever takes."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's")
    for _ in range(5):
        event_record(actor=None, action="auth.token", outcome=Outcome.DENIED, reason="invalid")
    ledger.sequence_now()
    forward.forward_all()  # creates the row
    ForwardPosition.objects.filter(destination="syslog").update(position=0)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            ForwardPosition.objects.select_for_update().get(destination="syslog")
            holding.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        before = len(syslog.messages)
        result = forward.forward_all()[0]
        assert result.skipped and result.sent == 0 and len(syslog.messages) == before
    finally:
        release.set()
        thread.join()
    assert forward.forward_all()[0].sent == len(_leaves())
