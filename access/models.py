from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from access.crypto.datakeys import DataKey
from access.crypto.fields import (
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
    OwnKeyModel,
)
from access.roles import Capability, Role, capabilities_of

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_otp_webauthn.models import WebAuthnCredential


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    caseload_limit = models.PositiveIntegerField(
        default=15, help_text=_("Open cases per worker before the caseload is flagged.")
    )
    high_risk_limit = models.PositiveIntegerField(
        default=5, help_text=_("High-risk open cases per worker before the caseload is flagged.")
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff member. One role each; ``is_superuser`` grants no access to survivor data."""

    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    language = models.CharField(
        max_length=10, default="en", help_text=_("Interface language (one of HAVEN_LANGUAGES).")
    )

    def has_capability(self, capability: Capability) -> bool:
        return self.is_active and capability in capabilities_of(self.role)

    if TYPE_CHECKING:  # django-otp's devices' reverse relations
        webauthncredential_set: RelatedManager[WebAuthnCredential]
        totpdevice_set: RelatedManager[TOTPDevice]

    # The second factors (AS9-STO-5), asked here once for ``access.second_factor``,
    # ``access.passkeys`` and the pages; through the reverse relations of django-otp's
    # devices (their models import this one's, so it cannot import theirs). Having
    # either is one condition, for one person or a whole list.
    HAS_SECOND_FACTOR = Q(totpdevice__confirmed=True) | Q(webauthncredential__confirmed=True)

    def confirmed_passkeys(self) -> models.QuerySet[WebAuthnCredential]:
        """The person's passkeys that finished registration."""
        return self.webauthncredential_set.filter(confirmed=True)

    def has_authenticator_app(self) -> bool:
        return bool(self.totpdevice_set.filter(confirmed=True).exists())


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the token is shown once.

    Tokens are 256-bit random values, so a fast hash is enough: there is nothing to
    guess, and a slow hash on every API call would cost without protecting anything.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.prefix}… for user #{self.user_id}"


class GrantKind(models.TextChoices):
    ASSIGNMENT = "assignment", _("Assigned")
    GRANT = "grant", _("Granted by a supervisor")
    BREAK_GLASS = "break_glass", _("Emergency access (break-glass)")
    REFERRAL = "referral", _("Referral")


class CaseGrantQuerySet(models.QuerySet["CaseGrant"]):
    def active(self, at: object = None) -> CaseGrantQuerySet:
        """Grants in force at ``at`` (default: now): ``CaseGrant.is_active_at`` in SQL.
        Expiry is checked here, at query time, so an expired grant stops working the
        moment it expires."""
        moment = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=moment)
        )

    def is_last_assignment(self, grant: CaseGrant) -> bool:
        """Whether ``grant`` is its case's only assignment in force: ending it would
        leave the case without an assigned worker."""
        now = timezone.now()
        if grant.kind != GrantKind.ASSIGNMENT or not grant.is_active_at(now):
            return False
        others = self.active(now).filter(
            content_object_id=grant.content_object_id, kind=GrantKind.ASSIGNMENT
        )
        return not others.exclude(pk=grant.pk).exists()


class CaseGrant(EncryptedModel, UserObjectPermissionBase):
    """A per-record relation between a staff member and a case.

    Stored in django-guardian's direct-foreign-key form (one indexed FK to the case,
    not the generic object-permission tables), with who granted it, why, and until when.
    Rows are kept after revocation or expiry as the record of who had access.

    The reason is encrypted under the survivor's key (a break-glass reason describes an
    emergency): only the case's team supervisor and the DPO reviewing it read it, and
    shredding the survivor destroys it with everything else.
    """

    encryption_row_field = "uid"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    content_object = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="grants"
    )
    kind = models.CharField(max_length=20, choices=GrantKind.choices)
    reason = EncryptedTextField(max_length=500)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = EncryptedTextField(max_length=500)

    objects = CaseGrantQuerySet.as_manager()  # type: ignore[assignment,misc]

    class Meta:
        # guardian's base makes (user, permission, object) unique; Haven keeps history
        # rows instead, so several grants (most of them ended) may exist per pair.
        unique_together: list[str] = []  # type: ignore[misc]
        indexes = [
            models.Index(fields=["user", "content_object"], name="grant_user_case"),
            models.Index(fields=["content_object", "user"], name="grant_case_user"),
        ]

    def __str__(self) -> str:
        return f"grant #{self.pk} ({self.kind}) for user #{self.user_id}"

    def data_key(self) -> DataKey:
        key: DataKey = self.content_object.survivor.data_key()
        return key

    def is_active_at(self, moment: dt.datetime) -> bool:
        """In force at ``moment``: not revoked and not yet expired (the one home of the
        rule; ``CaseGrantQuerySet.active`` is the same rule in SQL)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)

    @property
    def in_force(self) -> bool:
        return self.is_active_at(timezone.now())


class ConfidentialityRules(models.Model):
    """The organisation's confidentiality rules, versioned (AS9-STO-6). A new version is
    a new row; staff are asked to accept again. Rows are never edited."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField(max_length=50_000)
    # The text in the organisation's default language is ``text``; other languages'
    # texts of the same version are here, language code -> text.
    language = models.CharField(max_length=10, default="en")
    translations = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "confidentiality rules"

    def __str__(self) -> str:
        return f"confidentiality rules v{self.version}"

    def text_in(self, language: str) -> tuple[str, str]:
        """The text to show a reader of ``language``, and the language it is in: their
        own when this version has it, else the version's default language."""
        translated = (self.translations or {}).get(language)
        if translated:
            return str(translated), language
        return self.text, self.language


class ConfidentialityAcceptance(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="acceptances")
    rules = models.ForeignKey(ConfidentialityRules, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=timezone.now)
    # The language of the text the person was shown and accepted.
    language = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "rules"], name="one_acceptance_per_version")
        ]

    def __str__(self) -> str:
        return f"user #{self.user_id} accepted v{self.rules_id}"


class WrappedKey(models.Model):
    """A key the keyring file may leave out (the contract's minimal keyring names only
    KEKs): created once, wrapped by the active KEK, and kept here, so a database copy
    holds only ciphertext of it. A key the file does provide is registered here too,
    with no ``wrapped`` bytes, so that its state and parameters live in one place.

    Blind-index keys carry their truncation (``bits``): changing it means building the
    index under a new key, then switching (``keys reindex --bits``)."""

    class Purpose(models.TextChoices):
        INDEX = "index", _("Blind-index root key")
        SIGNING = "signing", _("Audit log signing key")

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEXT = "next", _("Being built, not yet used for search")

    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    key_id = models.CharField(max_length=32)
    state = models.CharField(max_length=10, choices=State.choices)
    kek_id = models.CharField(max_length=32, blank=True)
    wrapped = models.BinaryField(null=True, blank=True)
    bits = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purpose", "key_id"], name="wrapped_key_id"),
            models.UniqueConstraint(
                fields=["purpose"],
                condition=Q(state="active"),
                name="one_active_key_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} key {self.key_id} ({self.state})"


class StaffInvitation(models.Model):
    """A one-time link for a new (or locked-out) staff member to choose their password.
    Only the link's SHA-256 is kept; the link itself is shown once to the administrator
    who made it (and e-mailed when mail is configured)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invitation #{self.pk} for user #{self.user_id}"

    def usable_at(self, moment: dt.datetime) -> bool:
        return self.used_at is None and moment < self.expires_at


class FormDraft(OwnKeyModel):
    """What a staff member had typed into a form when their session ran out, kept on the
    server (never in the browser) until they sign in again and take it back, or discard
    it. The fields are sealed with a data key of the draft's own, wrapped by the active
    KEK like a survivor's: the database holds nothing readable. A draft older than
    ``HAVEN_DRAFT_DAYS`` is deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="drafts")
    path = models.CharField(max_length=300, help_text=_("the page the form was on"))
    case_reference = models.CharField(
        max_length=20,
        blank=True,
        db_index=True,
        help_text=_("the case the page belongs to, if any: the draft ends with the case"),
    )
    saved_at = models.DateTimeField(default=timezone.now)
    fields = EncryptedJSONField(max_length=300_000)

    class Meta:
        ordering = ["-saved_at"]

    def __str__(self) -> str:
        return f"draft {self.pk} of user #{self.user_id}"


_STAFF_KEY_NAMESPACE = uuid.UUID("6f1d3c1e-3a55-4b8e-9f67-6a0c2b9d1e42")


def staff_key_id(user_id: int) -> uuid.UUID:
    """The id a staff member's private key is bound to, derived from the account (so a
    row moved to another account does not unwrap for it)."""
    return uuid.uuid5(_STAFF_KEY_NAMESPACE, f"staff:{user_id}")


class StaffKey(OwnKeyModel):
    """A staff member's own data key for what is theirs alone (the well-being
    self-check, AS8-4), wrapped by the KEK and bound to the account (``key_id``), so a
    row moved to another account does not unwrap for it. It is made at the first
    sign-in, so that having one says nothing about using the self-check. Only the
    services acting for that same person unwrap it; no route lets anyone else's session
    reach it (docs/threat-model.md says who can reach what)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"staff key of user #{self.user_id}"

    def key_id(self) -> uuid.UUID:
        return staff_key_id(self.user_id)


class SignInPolicy(models.Model):
    """How staff sign in, set by an administrator (one row; ``SignInPolicy.current()``).

    ``passkey_sign_in``: a passkey alone signs in (it proves possession and, through
    the device's own lock, the person), where the organisation allows it; otherwise a
    passkey is a second factor after the password. ``passkeys_required``: staff whose
    role reaches identity or clinical data must use a passkey as their second factor
    (phishing-resistant, OWASP ASVS level 3); an authenticator app's code is no longer
    accepted from them once they have one, and they are asked to enrol one before
    anything else. Recovery codes stay, for a lost device."""

    passkey_sign_in = models.BooleanField(default=False)
    passkeys_required = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "sign-in policy"

    def __str__(self) -> str:
        return "sign-in policy"

    @classmethod
    def current(cls) -> SignInPolicy:
        policy = cls.objects.order_by("pk").first()
        return policy if policy is not None else cls()
