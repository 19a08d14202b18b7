"""The referral letter: what the preview shows and the PDF prints, from one list of
blocks, so the clinician sends exactly what they checked (AS9-TRF-2, AS9-TRF-3).

The PDF is set with fpdf2, shaped by HarfBuzz where a script needs it (Arabic joined and
right to left, Thai marks placed), every script in its own font: Noto fonts that ``pip
install`` brings (no system fonts, nothing downloaded at run time). pypdf encrypts it
with AES-256 under a passphrase that is shown once and never stored; every page carries
the recipient and the export id.
"""

from __future__ import annotations

import functools
import hashlib
import io
import secrets
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from fontTools.ttLib import TTFont
from fontTools.varLib import instancer
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from pypdf import PdfReader, PdfWriter

# family -> (package, file inside it). All SIL Open Font License, from PyPI.
FONT_FILES = {
    "Latin": (
        "fontpkg_noto_sans",
        "files/NotoSans[wdth,wght].ttf",
    ),  # Latin, Cyrillic, Greek, Vietnamese
    "Arabic": ("fontpkg_noto_sans_arabic", "files/NotoSansArabic[wdth,wght].ttf"),
    "Thai": ("fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf"),
    "CJK": ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf"),
}
_SCRIPT_RANGES = {
    "Arabic": (
        (0x0600, 0x06FF),
        (0x0750, 0x077F),
        (0x08A0, 0x08FF),
        (0xFB50, 0xFDFF),
        (0xFE70, 0xFEFF),
    ),
    "Thai": ((0x0E00, 0x0E7F),),
    "CJK": (
        (0x2E80, 0x2FDF),
        (0x3000, 0x30FF),
        (0x3100, 0x31FF),
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xF900, 0xFAFF),
        (0xFF00, 0xFFEF),
    ),
}


@dataclass(frozen=True)
class Block:
    """One piece of the letter: ``title``, ``meta``, ``heading``, ``text`` or ``item``."""

    kind: str
    text: str


def _font_path(family: str) -> str:
    package, name = FONT_FILES[family]
    return str(resources.files(package).joinpath(name))


@functools.lru_cache(maxsize=8)
def _static_weight(family: str, weight: float) -> str:
    """A static instance of a variable font at ``weight``, made once and kept in the
    temporary directory (instancing takes seconds; reading the result, milliseconds)."""
    source = Path(_font_path(family))
    digest = hashlib.sha256(f"{source.stat().st_size}:{source.name}:{weight}".encode()).hexdigest()
    target = Path(tempfile.gettempdir()) / f"haven-font-{family}-{int(weight)}-{digest[:12]}.ttf"
    if not target.exists():
        font = instancer.instantiateVariableFont(TTFont(source), {"wght": weight, "wdth": 100})
        partial = target.with_suffix(f".{secrets.token_hex(4)}.tmp")
        font.save(partial)
        partial.replace(target)  # atomic: another process may be doing the same
    return str(target)


def scripts_in(texts: list[str]) -> set[str]:
    """Which fallback fonts the text needs (the Latin font is always loaded)."""
    needed: set[str] = set()
    for text in texts:
        for char in text:
            code = ord(char)
            if code < 0x0590:
                continue
            for script, ranges in _SCRIPT_RANGES.items():
                if script not in needed and any(lo <= code <= hi for lo, hi in ranges):
                    needed.add(script)
    return needed


_SHAPED_RANGES = (
    (0x0590, 0x08FF),
    (0x0900, 0x0DFF),
    (0x0E00, 0x0EFF),
    (0x0F00, 0x109F),
    (0x1780, 0x17FF),
    (0xFB1D, 0xFDFF),
    (0xFE70, 0xFEFF),
)


def needs_shaping(text: str) -> bool:
    """Whether a paragraph needs HarfBuzz: scripts whose letters join or reorder
    (Hebrew, Arabic, Indic, Thai, Lao, Khmer, Myanmar...) or combining marks left after
    NFC. Latin, Cyrillic, Greek, Vietnamese (precomposed) and CJK print without it, and
    fpdf2 lays text out far faster without shaping."""
    for char in text:
        code = ord(char)
        if code < 0x0300:
            continue
        if unicodedata.combining(char) or any(lo <= code <= hi for lo, hi in _SHAPED_RANGES):
            return True
    return False


def is_rtl(text: str) -> bool:
    """Whether a paragraph reads right to left: its first strongly directional
    character is Arabic or Hebrew (the Unicode bidi rule P2)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


class _Letter(FPDF):
    mark = ""

    def header(self) -> None:
        self.set_text_shaping(use_shaping_engine=needs_shaping(self.mark))
        self.set_font("Latin", size=8)
        self.set_text_color(110, 0, 0)
        self.multi_cell(0, 4, self.mark, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=Align.L)
        self.set_text_color(0, 0, 0)
        self.ln(3)

    def footer(self) -> None:
        self.set_text_shaping(use_shaping_engine=needs_shaping(self.mark))
        self.set_y(-14)
        self.set_font("Latin", size=8)
        self.set_text_color(110, 0, 0)
        page = _("page %(number)s of %(count)s") % {"number": self.page_no(), "count": "{nb}"}
        self.multi_cell(0, 4, f"{self.mark} · {page}", align=Align.C)


STYLE = {  # kind -> (font size, bold, space before)
    "title": (15, True, 0),
    "meta": (9, False, 0),
    "heading": (11, True, 4),
    "text": (10, False, 1),
    "item": (10, False, 0),
}


@dataclass(frozen=True)
class EmbeddedFile:
    """A file carried inside the PDF (a document of the survivor's copy), encrypted with
    it."""

    name: str
    content: bytes
    media_type: str


def pdf_letter(
    blocks: list[Block],
    *,
    mark: str,
    title: str,
    passphrase: str,
    files: Sequence[EmbeddedFile] = (),
) -> bytes:
    texts = [block.text for block in blocks] + [mark]
    pdf = _Letter(format="A4", unit="mm")
    pdf.mark = unicodedata.normalize("NFC", mark)
    pdf.set_margins(20, 16, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font("Latin", fname=_font_path("Latin"))
    pdf.add_font("Latin", style="B", fname=_static_weight("Latin", 700.0))
    fallbacks = sorted(scripts_in(texts))
    for family in fallbacks:
        pdf.add_font(family, fname=_font_path(family))
    pdf.set_fallback_fonts(fallbacks, exact_match=False)
    pdf.set_title(title)
    pdf.set_producer("Haven")
    pdf.set_creator("Haven")
    pdf.alias_nb_pages()
    pdf.add_page()
    measure = _Measure(pdf)
    for block in blocks:
        size, bold, space = STYLE[block.kind]
        if space:
            pdf.ln(space)
        pdf.set_font("Latin", style="B" if bold else "", size=size)
        indent = 6 if block.kind == "item" else 0
        for line in block.text.splitlines() or [""]:
            paragraph = unicodedata.normalize("NFC", line)
            shaped = needs_shaping(paragraph)
            pdf.set_text_shaping(use_shaping_engine=shaped)
            align = Align.R if is_rtl(paragraph) else Align.L
            if not shaped:  # fpdf2's own breaking is fast without shaping
                pdf.set_x(pdf.l_margin + indent)
                pdf.multi_cell(
                    pdf.epw - indent,
                    size * 0.5,
                    paragraph,
                    align=align,
                    new_x=XPos.LMARGIN,
                    new_y=YPos.NEXT,
                )
                continue
            for row in measure.wrap(paragraph, pdf.epw - indent):
                pdf.set_x(pdf.l_margin + indent)
                pdf.cell(
                    pdf.epw - indent,
                    size * 0.5,
                    row,
                    align=align,
                    new_x=XPos.LMARGIN,
                    new_y=YPos.NEXT,
                )
    for embedded in files:
        pdf.embed_file(
            bytes=embedded.content,
            basename=embedded.name,
            mime_type=embedded.media_type,
            compress=True,
        )
    return encrypt(bytes(pdf.output()), passphrase)


class _Measure:
    """Line breaking for shaped text, by words. fpdf2's own breaking re-shapes the line so
    far at every character (quadratic in the line's length), which made a survivor's
    copy in Arabic or Thai take seconds; here each word is shaped once, in the fonts
    it falls to, and its width kept for the rest of the document."""

    SLACK_MM = 0.5  # words shaped apart may join a hair wider than measured

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.widths: dict[tuple[str, str, float], float] = {}

    def width(self, word: str) -> float:
        key = (word, self.pdf.font_style, self.pdf.font_size_pt)
        known = self.widths.get(key)
        if known is None:
            known = self.widths[key] = self.pdf.get_string_width(word, normalized=True)
        return known

    def wrap(self, paragraph: str, cell_width: float) -> list[str]:
        """The paragraph's lines in reading order. A word wider than a line (Thai and
        Chinese are written without spaces) is broken between characters, never before
        a combining mark."""
        room = cell_width - 2 * self.pdf.c_margin - self.SLACK_MM
        space = self.width(" ")
        rows: list[str] = []
        words: list[str] = []
        used = 0.0
        for word in paragraph.split(" "):
            wide = self.width(word) if word else 0.0
            if wide > room:
                if words:
                    rows.append(" ".join(words))
                *full, last = self._pieces(word, room)
                rows.extend(full)
                words, used = [last], self.width(last)
            elif words and used + space + wide > room:
                rows.append(" ".join(words))
                words, used = [word], wide
            else:
                used += (space if words else 0.0) + wide
                words.append(word)
        rows.append(" ".join(words))
        return rows

    def _pieces(self, word: str, room: float) -> list[str]:
        """``word`` cut into pieces that each fit ``room``: the longest that fits, found
        by halving, so a line costs a few shapings and not one per character."""
        stops = [i for i in range(1, len(word)) if not _joins_previous(word[i])] + [len(word)]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            ahead = [stop for stop in stops if stop > start]
            best, low, high = ahead[0], 0, len(ahead) - 1
            while low <= high:
                middle = (low + high) // 2
                if self.pdf.get_string_width(word[start : ahead[middle]], normalized=True) <= room:
                    best, low = ahead[middle], middle + 1
                else:
                    high = middle - 1
            pieces.append(word[start:best])
            start = best
        return pieces


def _joins_previous(char: str) -> bool:
    """A mark or joiner that belongs to the character before it."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or char in "\u200c\u200d"


def encrypt(document: bytes, passphrase: str) -> bytes:
    """AES-256 (PDF 2.0) with pypdf; the owner password is random and forgotten."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    writer.encrypt(
        user_password=passphrase, owner_password=secrets.token_urlsafe(32), algorithm="AES-256"
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sender_lines() -> list[str]:
    """The letterhead: the organisation's name and contact, from the settings."""
    lines = [settings.HAVEN_ORGANISATION_NAME]
    lines += [line for line in settings.HAVEN_ORGANISATION_CONTACT.splitlines() if line.strip()]
    return lines
