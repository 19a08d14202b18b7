"""Black-box acceptance tests: one real server for the whole session (see server.py).
These tests import nothing from the project; tests/test_conventions.py keeps it so."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.acceptance import server as harness
from tests.acceptance.http import Client


@pytest.fixture(scope="session")
def haven() -> Iterator[harness.Server]:
    running, stop = harness.start(harness.workdir())
    try:
        yield running
    finally:
        stop()


@pytest.fixture(scope="session")
def as_user(haven: harness.Server) -> Callable[[str | None], Client]:
    def make(username: str | None) -> Client:
        return Client(haven.url, haven.tokens[username] if username else None)

    return make


@pytest.fixture(scope="session")
def accepted(as_user: Callable[[str | None], Client]) -> Callable[[str | None], Client]:
    """A client for a staff member who has read and accepted the confidentiality rules,
    through the API (as an integrator without a browser must)."""
    done: set[str] = set()

    def make(username: str | None) -> Client:
        client = as_user(username)
        if username and username not in done:
            version = client.get("/api/v1/confidentiality/").json["version"]
            assert (
                client.post("/api/v1/confidentiality/accept/", {"version": version}).status == 200
            )
            done.add(username)
        return client

    return make
