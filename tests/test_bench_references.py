"""The benchmarks' seeding draws references the way the application does, never the
same one twice (a collision at 100k cases used to crash the seeding)."""

from __future__ import annotations

from itertools import islice

from bench import references
from haven.references import normalise


def test_seeding_never_draws_a_reference_twice(monkeypatch):
    drawn = iter(["HV-AAAA-AAAA", "HV-AAAA-AAAA", "HV-BBBB-BBBB", "HV-AAAA-AAAA", "HV-CCCC-CCCC"])
    monkeypatch.setattr(references, "new_reference", lambda: next(drawn))
    assert list(islice(references.distinct_references(), 3)) == [
        "HV-AAAA-AAAA",
        "HV-BBBB-BBBB",
        "HV-CCCC-CCCC",
    ]


def test_the_references_drawn_are_valid_ones():
    sample = list(islice(references.distinct_references(), 2000))
    assert len(set(sample)) == 2000
    assert all(normalise(reference) == reference for reference in sample)
