from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from access.models import Team, User
from access.roles import Role
from access.services import token_issue
from audit.models import AccessEvent
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def team(db: Any) -> Team:
    return TeamFactory(slug="north", name="North")


@pytest.fixture
def other_team(db: Any) -> Team:
    return TeamFactory(slug="south", name="South")


@pytest.fixture
def make_staff(db: Any, team: Team) -> Callable[..., User]:
    def make(role: str = Role.CASEWORKER, **kwargs: Any) -> User:
        kwargs.setdefault("team", team if role not in (Role.DPO, Role.ADMIN) else None)
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def caseworker(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.CASEWORKER, username="cw")


@pytest.fixture
def clinician(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.CLINICIAN, username="clin")


@pytest.fixture
def supervisor(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.SUPERVISOR, username="sup")


@pytest.fixture
def dpo(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.DPO, username="dpo")


@pytest.fixture
def admin_user(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMIN, username="adm", is_staff=True)


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """An API client authenticated with a real bearer token for ``user``."""

    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user, days=1)}")
        return client

    return client_for


@pytest.fixture
def last_event() -> Callable[..., AccessEvent]:
    def latest(**filters: Any) -> AccessEvent:
        event = AccessEvent.objects.filter(**filters).order_by("-id").first()
        assert event is not None, f"no access event matching {filters}"
        return event

    return latest


@pytest.fixture
def isolated_keyring(tmp_path: Any, settings: Any) -> Any:
    """A private copy of the test keyring, so key operations in one test cannot
    change the keys other tests use."""
    import shutil
    from pathlib import Path

    from access.crypto import keyring

    path = tmp_path / "keyring.json"
    shutil.copy(Path(settings.HAVEN_KEYRING_FILE), path)
    provider = keyring.LocalKeyringProvider(path)
    keyring.set_provider(provider)
    settings.HAVEN_KEYRING_FILE = str(path)
    yield provider
    keyring.set_provider(None)
