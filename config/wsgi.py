"""WSGI entry point. Refuses to start without a usable keyring (fail closed)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from access.crypto.keyring import require_keyring  # noqa: E402  (needs configured Django)

require_keyring()
