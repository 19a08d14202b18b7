from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from access.roles import Capability, Role, capabilities_of


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    caseload_limit = models.PositiveIntegerField(
        default=15, help_text="Open cases per worker before the caseload is flagged."
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

    def has_capability(self, capability: Capability) -> bool:
        return self.is_active and capability in capabilities_of(self.role)


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
    ASSIGNMENT = "assignment", "Assigned"
    GRANT = "grant", "Granted by a supervisor"
    BREAK_GLASS = "break_glass", "Emergency access (break-glass)"
    REFERRAL = "referral", "Referral"


class CaseGrantQuerySet(models.QuerySet["CaseGrant"]):
    def active(self, at: object = None) -> CaseGrantQuerySet:
        """Grants in force at ``at`` (default: now). Expiry is checked here, at query
        time, so an expired grant stops working the moment it expires."""
        moment = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=moment)
        )


class CaseGrant(UserObjectPermissionBase):
    """A per-record relation between a staff member and a case.

    Stored in django-guardian's direct-foreign-key form (one indexed FK to the case,
    not the generic object-permission tables), with who granted it, why, and until when.
    Rows are kept after revocation or expiry as the record of who had access.
    """

    content_object = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="grants"
    )
    kind = models.CharField(max_length=20, choices=GrantKind.choices)
    reason = models.CharField(max_length=500, blank=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

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


class ConfidentialityRules(models.Model):
    """The organisation's confidentiality rules, versioned (AS9-STO-6). A new version is
    a new row; staff are asked to accept again. Rows are never edited."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField(max_length=50_000)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "confidentiality rules"

    def __str__(self) -> str:
        return f"confidentiality rules v{self.version}"


class ConfidentialityAcceptance(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="acceptances")
    rules = models.ForeignKey(ConfidentialityRules, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "rules"], name="one_acceptance_per_version")
        ]

    def __str__(self) -> str:
        return f"user #{self.user_id} accepted v{self.rules_id}"
