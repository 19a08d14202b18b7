"""Compile the translation catalogues (``locale/*/LC_MESSAGES/django.po``) into the
``.mo`` files Django reads, without GNU gettext: ``make run`` works on a machine that
has only Python. Where gettext is installed, ``make catalogues`` runs Django's own
``compilemessages`` instead; a test checks that both give the same translations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/django.po into .mo files (pure Python)."

    def handle(self, *args: Any, **options: Any) -> None:
        catalogues = sorted(
            path
            for folder in settings.LOCALE_PATHS
            for path in Path(folder).glob("*/LC_MESSAGES/django.po")
        )
        if not catalogues:
            raise CommandError("no catalogues under LOCALE_PATHS")
        for number, path in enumerate(catalogues, start=1):
            catalogue = polib.pofile(str(path))
            if catalogue.fuzzy_entries() or catalogue.untranslated_entries():
                raise CommandError(f"{path}: fuzzy or untranslated messages")
            catalogue.save_as_mofile(str(path.with_suffix(".mo")))
            self.stdout.write(
                f"[{number}/{len(catalogues)}] {path.parent.parent.name}: "
                f"{len(catalogue.translated_entries())} messages"
            )
