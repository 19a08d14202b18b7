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

ITEMS = tuple("abcdefghijklm")
SECONDARY_TRAUMA = ("c", "e", "h", "j", "l")
BURNOUT = ("a", "b", "d", "f", "g", "i", "k", "m")
LOWEST, HIGHEST = 1, 10

DEFAULT_WORDING: dict[str, str] = {
    "a": "Feeling cut off from other people",
    "b": "Feeling worn out by the work",
    "c": "Unwanted thoughts or images of what people I help went through",
    "d": "Finding it hard to keep work and home apart",
    "e": "Keeping away from reminders of what I have heard at work",
    "f": "Trouble falling or staying asleep",
    "g": "Feeling that I achieve less than I would like",
    "h": "Being easily startled or on edge",
    "i": "Feeling trapped in the job",
    "j": "Upsetting dreams related to the work",
    "k": "Feeling weighed down by the demands of the job",
    "l": "Strong reactions when something reminds me of people's stories",
    "m": "Feeling that I cannot look after myself well",
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
