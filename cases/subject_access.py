"""The survivor's own copy (GDPR Art. 15, AS9-END-2): everything Haven holds about them,
gathered once, as JSON or as an AES-256 PDF.

It holds the identity, the case, every encounter with its clinical block, the earlier
versions of what was corrected, the plan, services, tasks, consents, the documents and
photos kept (the files themselves: inside the JSON, or attached to the PDF), every
disclosure made (to whom, when, under which consent) and who accessed
the record: dates, role labels and the kind of access, never a staff member's name.
The PDF groups the accesses by day, role and kind (a survivor reads "a caseworker opened
the case 3 times on 4 May", not 5,000 lines); the JSON lists each one.

Labels are in the survivor's language when it is one of the interface languages
(``settings.LANGUAGES``), in English otherwise.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import mimetypes
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.roles import Role
from audit.selectors import events_about
from cases import letter, selectors
from cases.models import (
    IDENTITY_FIELDS,
    Attachment,
    Case,
    CaseService,
    CaseTask,
    Consent,
    Encounter,
    Identity,
    PlanGoal,
    Referral,
    Revision,
)
from haven.i18n import first_offered

FORMAT_ID = "haven-subject-access/1"

ACCESS_KINDS = {
    "case": gettext_lazy("Opened or changed the case"),
    "identity": gettext_lazy("Saw or corrected the identity"),
    "clinical": gettext_lazy("Saw or recorded health information"),
    "encounter": gettext_lazy("Read or recorded an encounter"),
    "consent": gettext_lazy("Read or recorded a consent"),
    "referral": gettext_lazy("Prepared or sent a referral"),
    "attachment": gettext_lazy("Opened or added a document"),
    "grant": gettext_lazy("Gave or ended someone's access"),
    "break_glass": gettext_lazy("Emergency access"),
    "plan": gettext_lazy("Read or changed the plan"),
    "goal": gettext_lazy("Read or changed the plan"),
    "service": gettext_lazy("Read or changed a service"),
    "task": gettext_lazy("Read or changed a task"),
    "legal_hold": gettext_lazy("Legal hold"),
    "subject_request": gettext_lazy("Your request for your data"),
    "intake": gettext_lazy("Checked for an earlier record"),
}


_UNSAFE = set('/\\:*?"<>|')


def role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else _("System")


def access_kind(action: str) -> str:
    return str(ACCESS_KINDS.get(action.split(".", 1)[0], _("Other access")))


def language_for(identity: Identity | None) -> str:
    """The first of the survivor's languages that Haven's interface offers (by code, by
    its English name or by its own name), else the default language."""
    return first_offered((identity.languages if identity is not None else None) or [])


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class Holdings:
    """Everything held about one survivor, read once."""

    case: Case
    identity: Identity | None
    encounters: list[Encounter]
    revisions: list[Revision]
    goals: list[PlanGoal]
    services: list[CaseService]
    tasks: list[CaseTask]
    consents: list[Consent]
    documents: list[Attachment]
    disclosures: list[Referral]
    files: dict[Any, bytes] = field(default_factory=dict)  # attachment id -> its bytes
    accesses: list[tuple[dt.datetime, str, str, str]] = field(default_factory=list)
    language: str = "en"
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @classmethod
    def gather(cls, case: Case) -> Holdings:
        identity = selectors.identity_for(case=case)
        encounters = list(selectors.encounters_for(case=case).order_by("occurred_at"))
        accesses = [
            (row["at"], row["actor_role"], row["action"], row["outcome"])
            for row in events_about(case.reference)
        ]
        documents = list(selectors.attachments_for(case=case).order_by("created_at"))
        return cls(
            case=case,
            identity=identity,
            encounters=encounters,
            revisions=list(
                Revision.objects.filter(survivor_id=case.survivor_id)
                .select_related("changed_by")
                .order_by("changed_at")
            ),
            goals=list(selectors.goals_for(case=case)),
            services=list(selectors.services_for(case=case).select_related("provider")),
            tasks=list(selectors.tasks_for(case=case)),
            consents=list(selectors.consents_for(case=case).select_related("recipient")),
            documents=documents,
            files={d.pk: d.content() for d in documents},
            disclosures=list(
                selectors.referrals_for(case=case).select_related("recipient", "consent")
            ),
            accesses=accesses,
            language=language_for(identity),
        )

    # --- as data -----------------------------------------------------------------

    def as_data(self) -> dict[str, Any]:
        c, person = self.case, self.identity
        return {
            "format": FORMAT_ID,
            "reference": c.reference,
            "generated_at": _iso(self.generated_at),
            "language": self.language,
            "identity": (
                {name: _iso(getattr(person, name)) for name in IDENTITY_FIELDS}
                | {"declined": person.declined or []}
                if person is not None
                else None
            ),
            "case": {
                "status": c.status,
                "opened_at": _iso(c.opened_at),
                "closed_at": _iso(c.closed_at),
                "close_reason": c.close_reason or None,
                "risk_level": c.risk_level,
                "trafficking_types": c.trafficking_types or [],
                "referral_source": c.referral_source,
                "summary": c.summary,
                "retention_until": _iso(c.retention_until),
                "legal_hold": c.legal_hold,
            },
            "encounters": [
                {
                    "occurred_at": _iso(e.occurred_at),
                    "kind": e.kind,
                    "recorded_by": role_label(e.author.role),
                    "location": e.location,
                    "interpreter_used": e.interpreter_used,
                    "notes": e.notes,
                    "services_provided": e.services_provided or [],
                    "follow_up_date": _iso(e.follow_up_date),
                    "clinical": e.clinical,
                }
                for e in self.encounters
            ],
            "corrections": [
                {
                    "record": r.subject,
                    "version": r.version,
                    "changed_at": _iso(r.changed_at),
                    "changed_by": role_label(r.changed_by.role),
                    "earlier_values": r.previous or {},
                    "earlier_clinical": r.previous_clinical,
                }
                for r in self.revisions
            ],
            "plan": [
                {
                    "goal": g.goal,
                    "agreed_on": _iso(g.agreed_on),
                    "review_on": _iso(g.review_on),
                    "status": g.status,
                }
                for g in self.goals
            ],
            "services": [
                {
                    "type": s.type,
                    "status": s.status,
                    "provider": s.provider.name if s.provider else None,
                    "due_on": _iso(s.due_on),
                    "notes": s.notes,
                }
                for s in self.services
            ],
            "tasks": [
                {"title": t.title, "due_on": _iso(t.due_on), "done_at": _iso(t.done_at)}
                for t in self.tasks
            ],
            "consents": [
                {
                    "scope": k.scope,
                    "recipient": k.recipient.name if k.recipient else None,
                    "purpose": k.purpose,
                    "method": k.method,
                    "given_at": _iso(k.given_at),
                    "expires_at": _iso(k.expires_at),
                    "withdrawn_at": _iso(k.withdrawn_at),
                }
                for k in self.consents
            ],
            "documents": [
                {
                    "title": d.title,
                    "kind": d.kind,
                    "media_type": d.media_type,
                    "added_at": _iso(d.created_at),
                    "file": self.file_name(n, d),
                }
                for n, d in enumerate(self.documents, start=1)
            ],
            "disclosures": [
                {
                    "recipient": r.recipient.name,
                    "purpose": r.purpose,
                    "sections": r.sections,
                    "identity_included": r.include_identity,
                    "consent": {"scope": r.consent.scope, "given_at": _iso(r.consent.given_at)},
                    "prepared_at": _iso(r.exported_at),
                    "sent_at": _iso(r.downloaded_at),
                    "format": r.format,
                }
                for r in self.disclosures
            ],
            "access": [
                {
                    "at": _iso(at),
                    "role": role_label(role),
                    "kind": action,
                    "described": access_kind(action),
                    "outcome": outcome,
                }
                for at, role, action, outcome in self.accesses
            ],
        }

    def as_json(self) -> bytes:
        with translation.override(self.language):
            data = self.as_data()
        for entry, document in zip(data["documents"], self.documents, strict=True):
            entry["content_base64"] = base64.b64encode(self.files[document.pk]).decode()
        return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")

    @staticmethod
    def file_name(number: int, document: Attachment) -> str:
        """A safe file name for a kept document: its number, its title without
        characters that file systems refuse, and the extension of its type."""
        title = "".join(
            ch for ch in (document.title or "") if ch.isprintable() and ch not in _UNSAFE
        ).strip(" .")[:60]
        extension = mimetypes.guess_extension(document.media_type) or ".bin"
        return f"{number:02d}-{title or document.kind}{extension}"

    # --- as a letter -------------------------------------------------------------

    def blocks(self) -> list[letter.Block]:
        B = letter.Block
        data = self.as_data()
        blocks = [B("meta", line) for line in letter.sender_lines()]
        blocks += [
            B("title", _("Your records at %(org)s") % {"org": settings.HAVEN_ORGANISATION_NAME}),
            B(
                "meta",
                _("Reference %(ref)s · prepared %(when)s")
                % {
                    "ref": self.case.reference,
                    "when": data["generated_at"],
                },
            ),
            B(
                "text",
                _(
                    "This is everything we hold about you, and a list of who looked at your "
                    "record and when. Staff are named by their role only."
                ),
            ),
        ]

        def section(title: str, items: list[dict[str, Any]]) -> None:
            blocks.append(B("heading", title))
            if not items:
                blocks.append(B("text", _("Nothing recorded.")))
            for item in items:
                for key, value in item.items():
                    if value in (None, "", [], {}):
                        continue
                    shown = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    blocks.append(B("item", f"{key.replace('_', ' ')}: {shown}"))
                blocks.append(B("meta", ""))

        section(_("About you"), [data["identity"]] if data["identity"] else [])
        section(_("Your case"), [data["case"]])
        section(_("Meetings and contacts"), data["encounters"])
        section(_("Corrections and their earlier values"), data["corrections"])
        section(_("Your plan"), data["plan"])
        section(_("Services"), data["services"])
        section(_("Tasks"), data["tasks"])
        section(_("Your consents"), data["consents"])
        section(_("Documents kept"), data["documents"])
        if data["documents"]:
            blocks.append(
                B("text", _("Each document is attached to this PDF, under the file name shown."))
            )
        section(_("Information shared with others"), data["disclosures"])
        blocks.append(B("heading", _("Who accessed your record")))
        grouped = Counter(
            (timezone.localdate(at).isoformat(), role_label(role), access_kind(action), outcome)
            for at, role, action, outcome in self.accesses
        )
        for (day, role, kind, outcome), count in sorted(grouped.items()):
            refused = "" if outcome == "allowed" else " " + _("(refused)")
            blocks.append(B("item", f"{day} · {role} · {kind}{refused} · {count}×"))
        if not grouped:
            blocks.append(B("text", _("Nothing recorded.")))
        return blocks

    def as_pdf(self, passphrase: str, request_id: str) -> bytes:
        with translation.override(self.language):
            return letter.pdf_letter(
                self.blocks(),
                mark=_("CONFIDENTIAL – for the person named only – request %(id)s")
                % {"id": request_id},
                title=_("Your records"),
                passphrase=passphrase,
                files=[
                    letter.EmbeddedFile(
                        name=self.file_name(n, d),
                        content=self.files[d.pk],
                        media_type=d.media_type,
                    )
                    for n, d in enumerate(self.documents, start=1)
                ],
            )
