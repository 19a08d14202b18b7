"""The layer map itself: the import-linter contract in ``pyproject.toml`` places every
module of the project, and it catches an upward import. ``lint-imports`` (in ``make
lint``) checks the code against it; these tests check that the map is worth checking
against (docs/architecture.md draws the same layers)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_TYPES = {"layers": LayersContract, "forbidden": ForbiddenContract}


@functools.cache
def _configuration() -> dict[str, Any]:
    return read_configuration(str(ROOT / "pyproject.toml"))


def _graph() -> grimp.ImportGraph:
    packages = _configuration()["session_options"]["root_packages"]
    return grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)


def _contract(contract_id: str) -> LayersContract | ForbiddenContract:
    configuration = _configuration()
    options = next(o for o in configuration["contracts_options"] if o["id"] == contract_id)
    contract_class = CONTRACT_TYPES[options["type"]]
    return contract_class(
        name=options["name"],
        session_options=configuration["session_options"],
        contract_options=options,
    )


def _layer_modules() -> set[str]:
    layers = next(o for o in _configuration()["contracts_options"] if o["id"] == "layers")
    names: set[str] = set()
    for layer in layers["layers"]:
        for part in layer.replace(":", "|").split("|"):
            names.add(part.strip())
    return names


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return _graph()


def test_every_module_has_its_place_on_the_map(graph):
    """A new module must be placed in a layer (or in a package that is); otherwise
    nothing would stop it from importing upwards."""
    placed = _layer_modules()
    unplaced = []
    for module in sorted(graph.modules):
        if ".migrations" in module or module.startswith("bench."):
            continue  # migrations are frozen history; bench is the top layer whole
        if module.split(".")[0] == "audit_verify":
            continue  # outside the layers: its own contract forbids it all of Haven
        if any(module == name or module.startswith(name + ".") for name in placed):
            continue
        if any(name.startswith(module + ".") for name in placed):
            continue  # a package that only contains placed modules
        unplaced.append(module)
    assert unplaced == []


@pytest.mark.parametrize("contract_id", ["layers", "audit-core"])
def test_the_code_keeps_the_contracts(graph, contract_id):
    check = _contract(contract_id).check(graph, verbose=False)
    assert check.kept, check.metadata


# Imports that must break the map: (importer, imported, contract, why it is wrong).
BAD_IMPORTS = [
    ("access.crypto.envelope", "cases.services", "layers", "the cipher reaching up to a service"),
    ("cases.models", "cases.services", "layers", "a model calling the service above it"),
    ("cases.services", "cases.views.pages", "layers", "a service knowing its web page"),
    ("cases.views.pages", "cases.api.views", "layers", "the web and the API sharing a view"),
    ("access.policy", "cases.services", "layers", "the policy depending on what it judges"),
    ("haven.errors", "cases.errors", "layers", "the base error knowing a family"),
    ("audit.log", "cases.models", "audit-core", "the audit log reading case models"),
    ("audit.selectors", "access.policy", "audit-core", "the trail deciding who may read"),
]


@pytest.mark.parametrize(("importer", "imported", "contract_id", "why"), BAD_IMPORTS)
def test_an_upward_import_breaks_the_map(importer, imported, contract_id, why):
    graph = _graph()  # a graph of its own, as this test adds to it
    assert _contract(contract_id).check(graph, verbose=False).kept
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="x")
    check = _contract(contract_id).check(graph, verbose=False)
    assert not check.kept, why
