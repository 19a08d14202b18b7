"""The 13-item compassion fatigue scale (Adams, Boscarino and Figley, 2006): items a to
m, each answered 1 to 10. Two subscales, secondary trauma and job burnout, and the
total. The scale has no cut-off scores: Haven shows the numbers and their trend, never
a diagnosis.

The wording of each item is the organisation's to load (the validated wording it is
licensed to use); these defaults are Haven's own short, neutral labels of each item's
theme, so that the form works before that is done.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

StrOrPromise = str | Promise

ITEMS = tuple("abcdefghijklm")
SECONDARY_TRAUMA = ("c", "e", "h", "j", "l")
BURNOUT = ("a", "b", "d", "f", "g", "i", "k", "m")
LOWEST, HIGHEST = 1, 10

DEFAULT_WORDING: dict[str, StrOrPromise] = {
    "a": _("Feeling cut off from other people"),
    "b": _("Feeling worn out by the work"),
    "c": _("Unwanted thoughts or images of what people I help went through"),
    "d": _("Finding it hard to keep work and home apart"),
    "e": _("Keeping away from reminders of what I have heard at work"),
    "f": _("Trouble falling or staying asleep"),
    "g": _("Feeling that I achieve less than I would like"),
    "h": _("Being easily startled or on edge"),
    "i": _("Feeling trapped in the job"),
    "j": _("Upsetting dreams related to the work"),
    "k": _("Feeling weighed down by the demands of the job"),
    "l": _("Strong reactions when something reminds me of people's stories"),
    "m": _("Feeling that I cannot look after myself well"),
}


def scores(answers: Mapping[str, int]) -> dict[str, int]:
    """The two subscales and the total: plain sums, as the scale defines them."""
    return {
        "secondary_trauma": sum(answers[i] for i in SECONDARY_TRAUMA),
        "burnout": sum(answers[i] for i in BURNOUT),
        "total": sum(answers[i] for i in ITEMS),
    }


def ranges() -> dict[str, tuple[int, int]]:
    """The lowest and highest each score can be, for charts."""
    return {
        "secondary_trauma": (LOWEST * len(SECONDARY_TRAUMA), HIGHEST * len(SECONDARY_TRAUMA)),
        "burnout": (LOWEST * len(BURNOUT), HIGHEST * len(BURNOUT)),
        "total": (LOWEST * len(ITEMS), HIGHEST * len(ITEMS)),
    }
