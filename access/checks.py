"""System checks: ``runserver``, ``migrate`` and ``check`` refuse to go on without keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core import checks

from access.crypto.errors import KeyringUnavailable
from access.crypto.keyring import get_provider


@checks.register(checks.Tags.security)
def keyring_available(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        get_provider().active_kek_id()
    except KeyringUnavailable as exc:
        return [checks.Critical(str(exc), id="haven.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def passkeys_bound_to_this_site(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Passkeys are bound to the relying party id and accepted from the listed origins
    only: both must name the site staff use, over HTTPS (docs/passkeys.md)."""
    rp_id = settings.OTP_WEBAUTHN_RP_ID
    origins = list(settings.OTP_WEBAUTHN_ALLOWED_ORIGINS)
    found: list[checks.CheckMessage] = []
    if not rp_id or rp_id == "localhost":
        found.append(
            checks.Warning(
                "HAVEN_WEBAUTHN_RP_ID is not this site's domain: passkeys will not work",
                id="haven.W010",
            )
        )
    for origin in origins:
        parts = urlparse(origin)
        host = parts.hostname or ""
        if parts.scheme != "https" or not (host == rp_id or host.endswith("." + rp_id)):
            found.append(
                checks.Error(
                    f"passkey origin {origin!r} is not https on {rp_id!r} or a subdomain",
                    id="haven.E011",
                )
            )
    return found
