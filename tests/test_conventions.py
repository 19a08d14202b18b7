"""House rules enforced by tests (Zulip-style lint): the code cannot drift from them
without a test failing. AS9-STO-1, AS9-STO-2, AS9-USE-1."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from access.crypto.fields import EncryptedField
from cases import models as case_models
from tests.factories import MARKERS, add_encounter, open_case

ROOT = Path(__file__).resolve().parents[1]
VIEW_MODULES = [
    *sorted((ROOT / "cases" / "views").glob("*.py")),
    ROOT / "cases" / "api" / "views.py",
]
CASE_MODELS = {"Case", "Encounter", "Identity", "Survivor", "Revision", "CaseGrant"}
POLICY_CALLS = {"case_for", "case_for_break_glass", "require_capability", "record_list"}


def test_no_view_module_queries_case_models_directly():
    """Every read goes through access.policy / selectors, never ``Case.objects``."""
    for path in VIEW_MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                target = node.value
                name = getattr(target, "id", getattr(target, "attr", ""))
                assert name not in CASE_MODELS, f"{path.name}:{node.lineno} queries {name}.objects"


def _calls(func: ast.FunctionDef) -> set[str]:
    return {
        n.func.attr
        for n in ast.walk(func)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }


def _view_functions(path: Path) -> list[tuple[ast.FunctionDef, dict[str, ast.FunctionDef]]]:
    """Public view functions and HTTP-method handlers, each with the private helpers
    of its class (a handler may do its policy call in ``self._helper``)."""
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append((node, {}))
        elif isinstance(node, ast.ClassDef):
            methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
            helpers = {name: m for name, m in methods.items() if name.startswith("_")}
            for name, method in methods.items():
                if name in {"get", "post", "patch", "put", "delete"}:
                    found.append((method, helpers))
    return found


def test_every_view_calls_the_access_policy():
    checked = 0
    for path in VIEW_MODULES:
        if path.name in {"__init__.py", "errors.py"}:
            continue
        for func, helpers in _view_functions(path):
            calls = _calls(func)
            for helper in calls & set(helpers):
                calls |= _calls(helpers[helper])
            assert calls & POLICY_CALLS, f"{path.name}:{func.name} makes no access.policy call"
            checked += 1
    assert checked >= 15


def _all_patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            out += _all_patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            out.append((prefix + str(pattern.pattern), pattern.callback))
    return out


def test_every_url_outside_a_small_allow_list_requires_login():
    """LoginRequiredMiddleware covers pages; API views rely on DRF's IsAuthenticated."""
    public = {"login/", "api/schema/"}
    for route, callback in _all_patterns(get_resolver()):
        if route.startswith("admin/") or route in public:
            continue
        is_api = route.startswith("api/")
        if is_api:
            view_class = callback.view_class  # type: ignore[attr-defined]
            from access.permissions import StaffGate

            perms = view_class().get_permissions()
            assert any(isinstance(p, StaffGate) for p in perms), route
        else:
            assert getattr(callback, "login_required", True), route


@pytest.mark.django_db
def test_no_model_str_contains_survivor_data(caseworker, clinician):
    """Standing rule 2: ``__str__`` of every case model shows references or ids only."""
    case = open_case(caseworker)
    encounter = add_encounter(
        clinician, case, clinical={"conditions": [{"display": MARKERS["condition"]}]}
    )
    identity = case_models.Identity.objects.select_related("survivor").get(survivor=case.survivor)
    for obj in (case, case.survivor, encounter, identity, *case_models.Revision.objects.all()):
        text = str(obj) + repr(obj)
        for marker in MARKERS.values():
            assert marker not in text, (type(obj).__name__, marker)


def test_encrypted_fields_are_never_named_in_a_str_method():
    source = (ROOT / "cases" / "models.py").read_text()
    tree = ast.parse(source)
    encrypted = {
        f.name
        for model in (case_models.Identity, case_models.Case, case_models.Encounter)
        for f in model._meta.get_fields()
        if isinstance(f, EncryptedField)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in {"__str__", "__repr__"}:
            names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            assert not names & encrypted, f"line {node.lineno} uses {names & encrypted}"


def test_cipher_objects_are_built_only_in_access_crypto():
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "tests", "var"} or rel.parts[:2] == ("access", "crypto"):
            continue
        text = path.read_text()
        assert not re.search(r"\b(AESGCM|Fernet|ChaCha20Poly1305)\(", text), str(rel)


BASE64_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")


def test_no_migration_or_settings_file_holds_key_material():
    files = [*ROOT.glob("*/migrations/*.py"), *ROOT.glob("config/*.py")]
    assert files
    for path in files:
        assert not BASE64_KEY.search(path.read_text()), str(path.relative_to(ROOT))


def test_every_case_model_survivor_field_is_encrypted():
    """What describes the survivor stays in encrypted fields; only these are clear."""
    clear = {
        "Identity": {"id", "survivor", "version", "updated_at"},
        "Case": {
            "id",
            "survivor",
            "team",
            "status",
            "opened_at",
            "closed_at",
            "risk_level",
            "legal_hold",
            "retention_until",
            "created_by",
            "updated_at",
        },
        "Encounter": {
            "id",
            "case",
            "occurred_at",
            "kind",
            "interpreter_used",
            "author",
            "follow_up_date",
            "version",
            "created_at",
            "updated_at",
        },
    }
    for name, allowed in clear.items():
        model = getattr(case_models, name)
        plain = {f.name for f in model._meta.concrete_fields if not isinstance(f, EncryptedField)}
        assert plain == allowed, f"{name}: unexpected clear fields {plain - allowed}"


def test_no_application_code_changes_or_deletes_audit_rows():
    """AS9-USE-2: besides the model-level refusal and the database triggers, no module
    outside tests and migrations so much as calls update or delete on an audit model."""
    pattern = re.compile(
        r"(AccessEvent|ChainLink|LogEntry)\.objects[^\n]*\.(update|delete|bulk_update)\("
    )
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "tests", "var", "bench"} or "migrations" in rel.parts:
            continue
        assert not pattern.search(path.read_text()), str(rel)
