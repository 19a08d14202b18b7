from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from access.crypto import hsm, keyring
from access.models import Team, User
from access.roles import Role
from access.services import token_issue
from audit.models import AccessEvent
from tests.factories import TeamFactory, UserFactory
from tests.helpers import SoftToken, softhsm_token


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
def isolated_keyring(tmp_path: Any, settings: Any) -> Iterator[keyring.LocalKeyringProvider]:
    """A private copy of the test keyring, so key operations in one test cannot
    change the keys other tests use."""
    path = tmp_path / "keyring.json"
    shutil.copy(Path(settings.HAVEN_KEYRING_FILE), path)
    provider = keyring.LocalKeyringProvider(path)
    keyring.set_provider(provider)
    settings.HAVEN_KEYRING_FILE = str(path)
    yield provider
    keyring.set_provider(None)


@pytest.fixture(scope="session")
def soft_token(tmp_path_factory: Any) -> SoftToken:
    """One SoftHSM2 token for the whole run (each test empties it of Haven's keys)."""
    return softhsm_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def token_keys(request: Any, settings: Any) -> Iterator[hsm.Pkcs11Provider]:
    """Haven's KEKs in the test token: emptied, then one fresh KEK (h1) made active."""
    token: SoftToken = request.getfixturevalue("soft_token")
    provider = hsm.Pkcs11Provider(token.module, token.label, hsm.read_pin(token.pin_file))
    for key in provider._listing(fresh=True).values():
        key.destroy()
    provider.add_kek()
    settings.HAVEN_KEY_PROVIDER = "pkcs11"
    settings.HAVEN_PKCS11_MODULE = token.module
    settings.HAVEN_PKCS11_TOKEN = token.label
    settings.HAVEN_PKCS11_PIN_FILE = str(token.pin_file)
    keyring.set_provider(provider)
    yield provider
    keyring.set_provider(None)
    provider.close()


@pytest.fixture(params=["file", "pkcs11"])
def key_provider(request: Any) -> keyring.ManagedProvider:
    """The test runs once with each key provider: the keyring file and a PKCS#11 token
    (SoftHSM2). Modules whose tests encrypt use it with
    ``pytestmark = pytest.mark.usefixtures("key_provider")``."""
    fixture = "isolated_keyring" if request.param == "file" else "token_keys"
    provider: keyring.ManagedProvider = request.getfixturevalue(fixture)
    return provider
