"""Case references for seeding: drawn like the application's, never twice in a run.

A reference has 7 random symbols (32**7, about 3.4e10), so among 100,000 drawn the
chance of two alike is about 15%: the seeding used to fail on the unique constraint
about one run in seven. The application itself draws again on a collision."""

from __future__ import annotations

from collections.abc import Iterator

from haven.references import new_reference


def distinct_references() -> Iterator[str]:
    seen: set[str] = set()
    while True:
        reference = new_reference()
        if reference not in seen:
            seen.add(reference)
            yield reference
