"""The audit log as FHIR R4 AuditEvent resources, following IHE Basic Audit Log Patterns
(BALP): one AuditEvent per leaf.

- A read, search, creation, change or deletion that names a case follows the
  ``PatientRead`` / ``PatientQuery`` / ``PatientCreate`` / ``PatientUpdate`` /
  ``PatientDelete`` pattern: type ``rest`` with the RESTful interaction as subtype, the
  staff member, the client and the server as agents, the case as the patient entity.
- A referral package or a subject-access package made or released is a privacy
  disclosure (``PrivacyDisclosure.Source``): type DICOM 110106 Export, subtype ISO 21089
  "disclose", Haven as the source agent and the recipient (the receiving organisation,
  or the survivor themself) as the recipient agent.
- Sign-in events are DICOM 110114 User Authentication (110122 Login, 110123 Logout); a
  ciphertext that does not decrypt is 110113 Security Alert.

Each resource also carries Haven's own action as a second subtype coding and, as an
entity, the leaf's index and hash, so a collector can tie it to the signed tree heads.
Nothing in it goes beyond the record: references and ids, never a name or content. The
case is named by its reference under ``urn:haven:<source>:case``, never by a Patient
resource with demographics.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

from audit.log import LeafRecord
from audit.rfc5424 import model_label

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
NETWORK_TYPE_IP = "2"

DISCLOSURES = {
    "referral.export",
    "referral.download",
    "subject_request.package",
    "subject_request.download",
}
_DELETE = {"purge", "erase", "shred", "discard", "delete", "selfcheck_delete"}
_CREATE = {
    "create",
    "add",
    "record",
    "make",
    "request",
    "save",
    "start",
    "issue",
    "invite",
    "open",
    "use",
    "publish",
    "place",
    "accept",
    "selfcheck",
    "talk_request",
    "package",
    "complete",
    "wording_load",
    "invitation_accept",
}
_SEARCH = {
    "list",
    "search",
    "caseload",
    "duplicate_check",
    "possible_duplicate",
    "events",
    "anomalies",
    "talk_list",
    "export_csv",
    "csv",
    "json",
}
_READ = {
    "read",
    "view",
    "history",
    "form_view",
    "reason_view",
    "page",
    "print",
    "preview",
    "status",
    "case_report",
    "user_report",
    "tree_head",
    "proof",
    "verify",
    "download",
    "restore",
}
# interaction -> (FHIR restful interaction, AuditEvent.action, BALP pattern name)
_INTERACTIONS = {
    "create": ("create", "C", "Create"),
    "read": ("read", "R", "Read"),
    "update": ("update", "U", "Update"),
    "delete": ("delete", "D", "Delete"),
    "search": ("search-type", "E", "Query"),
}
_CHANGE_INTERACTIONS = {0: "create", 1: "update", 2: "delete", 3: "read"}
_FHIR_ID = re.compile(r"[^A-Za-z0-9\-.]")


def interaction(action: str) -> str:
    """The RESTful interaction an action of Haven's amounts to."""
    verb = action.split(".", 1)[-1]
    for name, verbs in (
        ("delete", _DELETE),
        ("create", _CREATE),
        ("search", _SEARCH),
        ("read", _READ),
    ):
        if verb in verbs:
            return name
    return "update"


def resource_id(source: str, index: int) -> str:
    """A FHIR id (at most 64 of [A-Za-z0-9-.]) that names the leaf for good, so that a
    leaf delivered twice replaces itself."""
    prefix = _FHIR_ID.sub("-", source)[: 64 - 21] or "haven"
    return f"{prefix}-{index}"


def _coding(system: str, code: str, display: str = "") -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _recorded(value: Any) -> str:
    at: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user_agent(fields: dict[str, Any], source: str, kind: dict[str, str]) -> dict[str, Any]:
    who: dict[str, Any] = {"display": "no signed-in user"}
    if fields.get("actor_id") is not None:
        who = {
            "identifier": {"system": f"urn:haven:{source}:staff", "value": str(fields["actor_id"])}
        }
        if fields.get("actor_username"):
            who["display"] = fields["actor_username"]
    agent: dict[str, Any] = {"type": {"coding": [kind]}, "who": who, "requestor": True}
    if fields.get("actor_role"):
        agent["role"] = [{"text": fields["actor_role"]}]
    return agent


def _machine_agent(
    code: str, display: str, who: dict[str, Any], address: str | None = None
) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"coding": [_coding(DCM, code, display)]},
        "who": who,
        "requestor": False,
    }
    if address:
        agent["network"] = {"address": address, "type": NETWORK_TYPE_IP}
    return agent


def _leaf_entity(record: LeafRecord, source: str, details: dict[str, Any]) -> dict[str, Any]:
    detail = [
        {"type": "leaf-hash", "valueBase64Binary": base64.b64encode(record.hash).decode()},
        *(
            {"type": name, "valueString": value if isinstance(value, str) else json.dumps(value)}
            for name, value in sorted(details.items())
            if value not in (None, "", {}, [])
        ),
    ]
    return {
        "what": {
            "identifier": {"system": f"urn:haven:{source}:audit-log", "value": str(record.index)}
        },
        "type": _coding(ENTITY_TYPE, "2", "System Object"),
        "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
        "detail": detail,
    }


def _patient_entity(reference: str, source: str) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": f"urn:haven:{source}:case", "value": reference}},
        "type": _coding(ENTITY_TYPE, "1", "Person"),
        "role": _coding(OBJECT_ROLE, "1", "Patient"),
    }


def _event(record: LeafRecord, source: str) -> dict[str, Any]:
    fields = record.fields
    action: str = fields["action"]
    reference: str = fields["case_reference"]
    allowed = fields["outcome"] == "allowed"
    haven_action = _coding(f"urn:haven:{source}:action", action)
    client = _machine_agent(
        "110153",
        "Source Role ID",
        {"display": (fields["user_agent"] or "unknown client")[:200]},
        fields["ip"],
    )
    server = _machine_agent("110152", "Destination Role ID", {"display": source})
    resource: dict[str, Any] = {}
    if action in DISCLOSURES and allowed:
        detail = fields["detail"] or {}
        if action.startswith("referral."):
            recipient_who: dict[str, Any] = {
                "identifier": {
                    "system": f"urn:haven:{source}:organisation",
                    "value": str(detail.get("recipient") or "unknown"),
                }
            }
        else:
            recipient_who = {
                "identifier": {"system": f"urn:haven:{source}:case", "value": reference},
                "display": "the survivor (subject access)",
            }
        resource = {
            "meta": {"profile": [BALP + "PrivacyDisclosure.Source"]},
            "type": _coding(DCM, "110106", "Export"),
            "subtype": [
                _coding(LIFECYCLE, "disclose", "Disclose Record Lifecycle Event"),
                haven_action,
            ],
            "action": "R",
            "agent": [
                _machine_agent("110153", "Source Role ID", {"display": source}),
                _machine_agent("110152", "Destination Role ID", recipient_who),
                _user_agent(fields, source, _coding(SECURITY_ROLE, "humanuser", "human user")),
            ],
        }
    elif action.startswith("auth."):
        subtype = [haven_action]
        if action == "auth.login":
            subtype.insert(0, _coding(DCM, "110122", "Login"))
        elif action == "auth.logout":
            subtype.insert(0, _coding(DCM, "110123", "Logout"))
        resource = {
            "type": _coding(DCM, "110114", "User Authentication"),
            "subtype": subtype,
            "action": "E",
            "agent": [
                _user_agent(fields, source, _coding(SECURITY_ROLE, "humanuser", "human user")),
                client,
                server,
            ],
        }
    elif action == "crypto.decrypt_failed":
        resource = {
            "type": _coding(DCM, "110113", "Security Alert"),
            "subtype": [haven_action],
            "action": "E",
            "agent": [
                _user_agent(fields, source, _coding(SECURITY_ROLE, "humanuser", "human user")),
                server,
            ],
        }
    else:
        code, letter, pattern = _INTERACTIONS[interaction(action)]
        resource = {
            "type": _coding(EVENT_TYPE, "rest", "Restful Operation"),
            "subtype": [_coding(INTERACTION, code), haven_action],
            "action": letter,
            "agent": [
                _user_agent(
                    fields, source, _coding(PARTICIPATION, "IRCP", "information recipient")
                ),
                client,
                server,
            ],
        }
        if reference and allowed:
            resource["meta"] = {"profile": [BALP + "Patient" + pattern]}
    if action.startswith("break_glass."):
        resource["purposeOfEvent"] = [{"coding": [_coding(ACT_REASON, "BTG", "break the glass")]}]
    if action == "crypto.decrypt_failed":
        resource["outcome"], resource["outcomeDesc"] = "8", "a ciphertext did not decrypt"
    elif not allowed:
        resource["outcome"] = "4"
        if fields["reason"]:
            resource["outcomeDesc"] = f"refused: {fields['reason']}"
    else:
        resource["outcome"] = "0"
    entities = [
        _leaf_entity(
            record,
            source,
            {
                "request-id": fields["request_id"],
                "reason": fields["reason"],
                "detail": fields["detail"],
            },
        )
    ]
    if reference:
        entities.insert(0, _patient_entity(reference, source))
    resource["entity"] = entities
    resource["recorded"] = _recorded(fields["at"])
    return resource


def _change(record: LeafRecord, source: str) -> dict[str, Any]:
    fields = record.fields
    code, letter, _ = _INTERACTIONS[_CHANGE_INTERACTIONS.get(fields["action"], "update")]
    changes = fields["changes"] or {}
    if isinstance(changes, str):
        changes = json.loads(changes)
    label = model_label(fields["content_type_id"])
    data = {
        "what": {
            "identifier": {
                "system": f"urn:haven:{source}:{label}",
                "value": str(fields["object_pk"]),
            }
        },
        "type": _coding(ENTITY_TYPE, "2", "System Object"),
        "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
    }
    return {
        "type": _coding(EVENT_TYPE, "rest", "Restful Operation"),
        "subtype": [
            _coding(INTERACTION, code),
            _coding(f"urn:haven:{source}:action", f"change.{code}"),
        ],
        "action": letter,
        "recorded": _recorded(fields["timestamp"]),
        "outcome": "0",
        "agent": [
            _user_agent(
                {"actor_id": fields["actor_id"]},
                source,
                _coding(SECURITY_ROLE, "humanuser", "human user"),
            ),
            _machine_agent(
                "110152", "Destination Role ID", {"display": source}, fields["remote_addr"]
            ),
        ],
        "entity": [
            data,
            _leaf_entity(record, source, {"fields": sorted(changes)}),  # names, never values
        ],
    }


def audit_event(record: LeafRecord, *, source: str) -> dict[str, Any]:
    """The AuditEvent for one leaf of the log."""
    body = _event(record, source) if record.kind == "event" else _change(record, source)
    return {
        "resourceType": "AuditEvent",
        "id": resource_id(source, record.index),
        **body,
        "source": {
            "site": source,
            "observer": {"display": source},
            "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
        },
    }


def batch(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch bundle that puts each AuditEvent at its own id (idempotent: a leaf sent
    again after a failure replaces itself)."""
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"AuditEvent/{resource['id']}"},
            }
            for resource in resources
        ],
    }
