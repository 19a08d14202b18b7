"""The interface languages (``HAVEN_LANGUAGES``) and how a request gets its own.

Before sign-in the browser decides (``Accept-Language``, or the language cookie the
language control sets); after sign-in the staff member's chosen language does, on pages
and in the API (bearer tokens included, see ``access.authentication``). API error
``code``s never change with the language; their ``detail`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.http import HttpRequest, HttpResponse
from django.utils import translation


def offered() -> list[str]:
    """The codes of the languages this organisation offers, in its order."""
    return [code for code, _name in settings.LANGUAGES]


def native_name(code: str) -> str:
    """A language's name in itself ("Français", "العربية"), as a control offers it."""
    info = LANG_INFO.get(code, {})
    return str(info.get("name_local", code))


def is_rtl(code: str) -> bool:
    return bool(LANG_INFO.get(code, {}).get("bidi", False))


def first_offered(codes: Iterable[str], fallback: str | None = None) -> str:
    """The first of ``codes`` (a survivor's or a recipient's languages, as written: "fr",
    "ar-SY", "Arabic", "français") that the organisation offers; else ``fallback`` or
    the default language. Letters and packages are written in it."""
    by_name: dict[str, str] = {}
    for code in offered():
        info = LANG_INFO.get(code, {})
        for name in (code, info.get("name", ""), info.get("name_local", "")):
            if name:
                by_name[str(name).casefold()] = code
    for raw in codes:
        wanted = str(raw).strip().casefold().replace("_", "-")
        if not wanted:
            continue
        if wanted in by_name:
            return by_name[wanted]
        base = wanted.split("-")[0]
        if base in by_name:
            return by_name[base]
    return fallback or settings.LANGUAGE_CODE


def activate_for(user: Any) -> None:
    """Switch the current thread to ``user``'s language when it is offered."""
    code = getattr(user, "language", None)
    if code and code in offered():
        translation.activate(code)


class StaffLanguageMiddleware:
    """After authentication: a signed-in staff member's own language wins over the
    browser's (Django's ``LocaleMiddleware`` has already chosen from the browser)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            activate_for(user)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


def context(request: HttpRequest) -> dict[str, Any]:
    """What every page needs for its language control, direction and time zone."""
    current = translation.get_language() or settings.LANGUAGE_CODE
    return {
        "haven_languages": [(code, native_name(code)) for code in offered()],
        "haven_language": current,
        "haven_dir": "rtl" if translation.get_language_bidi() else "ltr",
        "haven_time_zone": settings.TIME_ZONE,
    }
