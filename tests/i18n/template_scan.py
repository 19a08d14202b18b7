"""Finds words in templates that are not marked for translation.

Django's own lexer splits a template into text, variables and tags. Translated parts
(``{% translate %}``, ``{% blocktranslate %}`` ... ``{% endblocktranslate %}``) and
comments are set aside; what is left is read as HTML. Any visible text, or any
``aria-label``, ``title``, ``alt`` or ``placeholder`` value, that still holds a word is
reported with its line. Brand and format names that stay the same in every language are
allowed (``UNTRANSLATED``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

# Names that are the same in every language: the product, file formats, standards.
UNTRANSLATED = {"Haven", "CSV", "JSON", "PDF", "FHIR", "API", "TOTP", "QR", "SVG", "ID", "SHA"}
CHECKED_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "aria-roledescription"}
# Commands, code and scripts stay as they are.
SKIPPED = {"script", "style", "code", "kbd", "samp"}
WORD = re.compile(r"[^\W\d_]{2,}")
PLACEHOLDER = " "


@dataclass(frozen=True)
class Unmarked:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.replace(PLACEHOLDER, " ")) if w not in UNTRANSLATED]


class _Reader(HTMLParser):
    def __init__(self, path: str, lines: list[int]) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.lines = lines  # the template line of each skeleton line
        self.found: list[Unmarked] = []
        self.skip = 0  # inside code, a script or a style

    def _line(self) -> int:
        row, _col = self.getpos()
        return self.lines[min(row - 1, len(self.lines) - 1)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skip += 1
        for name, value in attrs:
            if name in CHECKED_ATTRIBUTES and value and _words(value):
                self.found.append(Unmarked(self.path, self._line(), f"{name}={value}"))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and _words(data):
            self.found.append(Unmarked(self.path, self._line(), data.strip()))


def skeleton(source: str) -> tuple[str, list[int]]:
    """The template with every variable and tag replaced by a placeholder and every
    translated or commented part removed, and the template line of each of its lines."""
    parts: list[str] = []
    lines: list[int] = [1]
    depth = 0  # inside blocktranslate, comment or verbatim
    for token in Lexer(source).tokenize():
        text = token.contents
        if token.token_type == TokenType.BLOCK:
            name = text.split()[0] if text else ""
            if name in ("blocktranslate", "blocktrans", "comment", "verbatim"):
                depth += 1
            elif name in ("endblocktranslate", "endblocktrans", "endcomment", "endverbatim"):
                depth -= 1
            text = PLACEHOLDER
        elif token.token_type == TokenType.VAR:
            text = PLACEHOLDER
        elif token.token_type == TokenType.COMMENT:
            text = ""
        elif depth:
            text = PLACEHOLDER + "\n" * text.count("\n")
        lines.extend((token.lineno or 1) + k + 1 for k in range(text.count("\n")))
        parts.append(text)
    return "".join(parts), lines


# A word given to a filter as a plain string ({{ x|default:"none" }}) is shown as it is;
# the translatable form is {{ x|default:_("none") }}.
FILTER_WORDS = re.compile(r'\|\w+:"([^"]*)"')


def scan(path: Path, root: Path) -> list[Unmarked]:
    source = path.read_text(encoding="utf-8")
    text, lines = skeleton(source)
    reader = _Reader(str(path.relative_to(root)), lines)
    reader.feed(text)
    reader.close()
    for token in Lexer(source).tokenize():
        if token.token_type in (TokenType.VAR, TokenType.BLOCK):
            for argument in FILTER_WORDS.findall(token.contents):
                if _words(argument) and not _is_format(argument):
                    reader.found.append(Unmarked(reader.path, token.lineno, argument))
    return reader.found


def _is_format(argument: str) -> bool:
    """Date format names and filter keys ("SHORT_DATE_FORMAT", "service") are not
    shown to anyone."""
    return argument.isupper() or bool(re.fullmatch(r"[a-z_-]+", argument))


def scan_all(root: Path, folders: list[Path]) -> list[Unmarked]:
    found: list[Unmarked] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.html")):
            found.extend(scan(path, root))
        for path in sorted(folder.rglob("*.txt")):
            found.extend(scan(path, root))
    return found
