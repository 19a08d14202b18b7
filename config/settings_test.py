"""Test settings: production settings with a throwaway keyring (in the contract's
minimal form: KEKs only) and plain HTTP.

Everything else (DEBUG off, no autocreated keys) stays as in production, so tests
exercise the real configuration.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from pathlib import Path

_keyring_dir = Path(tempfile.mkdtemp(prefix="haven-test-keys-"))
_keyring = _keyring_dir / "keyring.json"
_keyring.write_text(
    json.dumps(
        {
            "active": "k1",
            "keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
        }
    )
)
os.environ.setdefault("HAVEN_KEYRING_FILE", str(_keyring))
os.environ.setdefault("HAVEN_ATTACHMENT_DIR", str(_keyring_dir / "attachments"))
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("HAVEN_AUDIT_SEQUENCER", "off")  # tests sequence explicitly

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in prod
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = _keyring_dir / "static"
STATIC_ROOT.mkdir(exist_ok=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Lets the test runner flush the audit tables between tests (superuser only; the
    # triggers refuse everyone else). Tamper tests switch it off to prove the refusal.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c haven.audit_maintenance=on"  # noqa: F405
