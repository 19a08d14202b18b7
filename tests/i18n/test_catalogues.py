"""The translations are complete and current: every offered language has a catalogue
with every message translated, none fuzzy, placeholders intact; no template text is left
unmarked; the catalogues hold every marked message (makemessages run afresh)."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

from tests.i18n.template_scan import scan_all

ROOT = Path(settings.BASE_DIR)
TEMPLATE_FOLDERS = [ROOT / "templates"] + [
    ROOT / app / "templates" for app in ("access", "audit", "cases", "carers")
]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")
PLURAL_FORMS = {"fr": 2, "es": 3, "ar": 6, "ru": 4}
SOURCE_FOLDERS = ["access", "audit", "cases", "carers", "haven", "config", "templates"]
MAKEMESSAGES_IGNORE = [".venv*", "tests", "bench", "staticfiles", "var", "node_modules"]


def _translated_languages() -> list[str]:
    return [code for code in settings.HAVEN_LANGUAGES if code != "en"]


def _catalogue(code: str) -> polib.POFile:
    path = ROOT / "locale" / code / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"{code} is offered but has no catalogue at {path}"
    return polib.pofile(str(path))


def test_the_default_languages_are_offered():
    assert set(settings.HAVEN_LANGUAGES) >= {"en", "fr", "es", "ar", "ru"}


@pytest.mark.parametrize("code", _translated_languages())
def test_every_message_is_translated_and_none_is_fuzzy(code):
    catalogue = _catalogue(code)
    assert not catalogue.metadata_is_fuzzy
    assert catalogue.untranslated_entries() == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    assert [e.msgid for e in catalogue.obsolete_entries()] == []
    assert f"nplurals={PLURAL_FORMS[code]};" in catalogue.metadata["Plural-Forms"]


@pytest.mark.parametrize("code", _translated_languages())
def test_every_translation_keeps_its_placeholders(code):
    """A lost or misspelt %(name)s would raise, or silently drop a reference or date."""
    wrong = []
    for entry in _catalogue(code).translated_entries():
        if entry.msgid_plural:
            allowed = set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
            forms = entry.msgstr_plural.values()
            wrong += [entry.msgid for f in forms if not set(PLACEHOLDER.findall(f)) <= allowed]
            assert len(entry.msgstr_plural) == PLURAL_FORMS[code], entry.msgid
        elif set(PLACEHOLDER.findall(entry.msgid)) != set(PLACEHOLDER.findall(entry.msgstr)):
            wrong.append(entry.msgid)
    assert wrong == []


def test_no_template_text_is_left_unmarked():
    """Every word a page shows, and every aria-label, title, alt and placeholder, goes
    through {% translate %} or {% blocktranslate %}."""
    found = scan_all(ROOT, [f for f in TEMPLATE_FOLDERS if f.exists()])
    assert found == [], "\n".join(map(str, found))


def test_the_template_scan_finds_unmarked_text(tmp_path):
    """The scan itself: it would catch the slips it is there for."""
    page = tmp_path / "page.html"
    page.write_text(
        '{% load i18n %}<h1>{% translate "Marked" %}</h1><p>Left alone</p>'
        '<nav aria-label="Main">{{ x|default:"not yet" }}</nav>'
        "{% blocktranslate %}Fine {{ y }}{% endblocktranslate %}<code>manage.py</code>"
    )
    found = [u.text for u in scan_all(tmp_path, [tmp_path])]
    assert found == ["Left alone", "aria-label=Main", "not yet"]


def _gettext_available() -> bool:
    available = bool(shutil.which("xgettext") and shutil.which("msgfmt"))
    if not available and os.environ.get("HAVEN_REQUIRE_GETTEXT"):
        pytest.fail("GNU gettext (xgettext, msgfmt) is required: apt-get install gettext")
    return available


def test_the_catalogues_hold_every_marked_message(tmp_path, monkeypatch):
    """makemessages, run afresh over the code and templates, finds no message that the
    committed catalogues lack, and none they hold that the code no longer has."""
    if not _gettext_available():
        pytest.skip("GNU gettext not installed")
    # A copy of the sources: makemessages writes beside the files it reads.
    source = tmp_path / "src"
    for folder in SOURCE_FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("*.pyc"))
    (source / "locale").mkdir()
    monkeypatch.chdir(source)
    with override_settings(LOCALE_PATHS=[str(source / "locale")]):
        call_command(
            "makemessages",
            locale=["zz"],
            ignore_patterns=MAKEMESSAGES_IGNORE,
            no_location=True,
            verbosity=0,
        )
    fresh = polib.pofile(str(source / "locale" / "zz" / "LC_MESSAGES" / "django.po"))
    wanted = {(e.msgctxt, e.msgid) for e in fresh}
    for code in _translated_languages():
        held = {(e.msgctxt, e.msgid) for e in _catalogue(code) if not e.obsolete}
        assert sorted(wanted - held, key=str) == [], f"{code}: run `make messages` and translate"
        assert sorted(held - wanted, key=str) == [], f"{code}: stale messages"


def test_the_pure_python_compiler_matches_msgfmt(tmp_path):
    """`make run` on a machine without gettext compiles with polib: the result must read
    the same as GNU msgfmt's."""
    if not _gettext_available():
        pytest.skip("GNU gettext not installed")
    for code in _translated_languages():
        source = ROOT / "locale" / code / "LC_MESSAGES" / "django.po"
        ours, theirs = tmp_path / f"{code}-polib.mo", tmp_path / f"{code}-msgfmt.mo"
        polib.pofile(str(source)).save_as_mofile(str(ours))
        subprocess.run(["msgfmt", "-c", "-o", str(theirs), str(source)], check=True)
        with ours.open("rb") as a, theirs.open("rb") as b:
            mine, reference = gettext.GNUTranslations(a), gettext.GNUTranslations(b)
        for entry in _catalogue(code):
            if entry.msgid_plural:
                for n in (0, 1, 2, 5, 11, 101):
                    assert mine.ngettext(entry.msgid, entry.msgid_plural, n) == (
                        reference.ngettext(entry.msgid, entry.msgid_plural, n)
                    )
            elif not entry.msgctxt:
                assert mine.gettext(entry.msgid) == reference.gettext(entry.msgid)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("fr", "Se connecter"), ("es", "Iniciar sesión"), ("ar", "تسجيل الدخول"), ("ru", "Войти")],
)
def test_the_compiled_catalogues_are_in_use(code, expected):
    """The .mo files are built (make catalogues) and Django reads them."""
    with translation.override(code):
        assert translation.gettext("Sign in") == expected
