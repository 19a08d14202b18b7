"""The one web error path: how pages show what Haven refuses.

- ``HavenErrorMiddleware``: any ``HavenError`` a page lets through becomes an error page
  with its status and its words (a 5xx says the generic thing and is logged);
- ``form_errors``: around a service call from a form, puts what it refuses at the
  fields it names, so the form is shown again with everything typed;
- ``refusals_as_messages``: for a POST that redirects back, a refusal becomes a message
  on the page it returns to;
- the 400/403/404/500 handlers, which answer JSON under ``/api/``.

No page view catches an error only to translate it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from haven.api import API_PREFIX, json_error, record_tampering
from haven.errors import HavenError

logger = logging.getLogger("haven.web")

TITLES = {
    400: gettext_lazy("Not possible"),
    403: gettext_lazy("Not allowed"),
    404: gettext_lazy("Not found"),
    409: gettext_lazy("Changed meanwhile"),
    410: gettext_lazy("Erased"),
    422: gettext_lazy("Not possible"),
    500: gettext_lazy("Something went wrong"),
    503: gettext_lazy("Not available"),
}


def error_page(request: HttpRequest, status: int, text: str) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        codes = {400: "bad_request", 403: "permission_denied", 404: "not_found"}
        return json_error(status, codes.get(status, "server_error"), text)
    title = TITLES.get(status, TITLES[400] if status < 500 else TITLES[500])
    return render(
        request, "error.html", {"status": status, "title": title, "text": text}, status=status
    )


class HavenErrorMiddleware:
    """Pages: a ``HavenError`` that reached the top is answered with its status and its
    public words; nothing about the data is said."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HavenError):
            return None
        record_tampering(request, exception)
        if exception.status >= 500:
            logger.error("refused (%s): %s", exception.code, type(exception).__name__)
        return error_page(request, exception.status, exception.public_detail)


@dataclass
class Attempt:
    ok: bool = True
    error: HavenError | None = None


def posted(request: HttpRequest) -> Any:
    """A form's data: the POST, even an empty one (``request.POST or None`` would treat
    an empty POST as no submission at all and answer 200 without a word), or None."""
    return request.POST if request.method == "POST" else None


def uploaded(request: HttpRequest) -> Any:
    return request.FILES if request.method == "POST" else None


def _field_for(form: forms.BaseForm, name: object) -> str | None:
    return name if isinstance(name, str) and name in form.fields else None


@contextmanager
def form_errors(
    form: forms.BaseForm, *, passing: tuple[type[Exception], ...] = ()
) -> Iterator[Attempt]:
    """Run a service call for ``form``; a refusal lands on the form (at the field it
    names, else at the top), and ``attempt.ok`` says whether the call went through::

        with form_errors(form) as attempt:
            services.encounter_record(...)
        if attempt.ok:
            return redirect(...)

    ``passing`` names refusals the page handles itself, which go through untouched. A
    stale version is put at the top of the form, and the form takes the stored version;
    the page shows the stored record beside what was typed (``attempt.error``).
    """
    attempt = Attempt()
    try:
        yield attempt
    except passing:
        raise
    except ValidationError as exc:
        attempt.ok = False
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                form.add_error(_field_for(form, name), errors)
        else:
            form.add_error(None, exc)
    except HavenError as exc:
        if exc.status >= 500:
            raise
        attempt.ok, attempt.error = False, exc
        form.add_error(_field_for(form, exc.extra.get("field")), exc.public_detail)
        current = exc.extra.get("current_version")
        if current is not None and "version" in form.fields:
            # Saved by someone else meanwhile: what this person typed stays, and the form
            # now carries the stored version, so they can look, then save on purpose.
            data: Any = form.data
            data = data.copy()  # a QueryDict keeps every value of multi-value fields
            data["version"] = str(current)
            form.data = data


def refusals_as_messages(
    url_name: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For a page action that redirects back (a POST from a panel): a refusal becomes a
    message on the page ``url_name`` (with the view's ``reference``, if it has one)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response: HttpResponse = view(request, *args, **kwargs)
                return response
            except (HavenError, ValidationError) as exc:
                if isinstance(exc, HavenError) and (exc.status >= 500 or exc.status in (404, 410)):
                    raise
                text = exc.public_detail if isinstance(exc, HavenError) else "; ".join(exc.messages)
                messages.error(request, text)
                target = {"reference": kwargs["reference"]} if "reference" in kwargs else {}
                back: HttpResponse = redirect(url_name, **target)
                return back

        return wrapper

    return decorate


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 400, _("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 403, _("Your role does not allow this. The attempt was recorded."))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 404, _("There is nothing here that you can open."))


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(request, 500, _("The error was logged. Please try again."))
