"""The one place settings are read from the environment.

Production-safe defaults: nothing here falls back to an insecure value unless the
operator has said, with ``HAVEN_DEMO`` or ``DJANGO_DEBUG``, that this is not production.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEMO: bool = env.bool("HAVEN_DEMO", default=False)
DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)
RELAXED: bool = DEMO or DEBUG
"""True only on a developer's or demo machine: allows generated secrets and plain HTTP."""


def mandatory_secret(name: str) -> str:
    """Return a secret from the environment, or refuse to start.

    In demo/debug mode a random secret is generated once and kept under ``var/`` so
    that sessions survive a restart; it is never a constant in the source.
    """
    value: str = env.str(name, default="")
    if value:
        return value
    if not RELAXED:
        raise ImproperlyConfigured(
            f"{name} is not set. Haven refuses to start without it outside demo/debug mode. "
            f"Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
    VAR_DIR.mkdir(exist_ok=True)
    path = VAR_DIR / f"{name.lower()}.local"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()
