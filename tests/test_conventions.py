"""House rules enforced by tests (Zulip-style lint): the code cannot drift from them
without a test failing, and each rule is first shown to catch a bad example, so a rule
that silently stops working fails too. The rules themselves are in tests/house_rules.py.
AS9-STO-1, AS9-STO-2, AS9-USE-1, AS9-USE-2."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from access.crypto.fields import EncryptedField
from access.permissions import StaffGate
from cases import models as case_models
from tests import house_rules as rules
from tests.factories import MARKERS, add_encounter, open_case

ROOT = rules.ROOT


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- every rule catches its bad example, and lets the good one pass ----------------

BAD_QUERY = """
from cases.models import Case
def page(request):
    return Case.objects.filter(team=request.user.team)
"""
GOOD_QUERY = """
def page(request):
    return selectors.case_list_for(user=request.user)
"""


def test_the_query_rule_catches_a_view_that_queries_a_case_model():
    assert rules.case_model_queries(BAD_QUERY) == ["line 4: Case.objects"]
    assert rules.case_model_queries(GOOD_QUERY) == []


BAD_ACCESS = """
def page(request, reference):
    policy.record_list(request.user, action="case.list", count=0)  # records, decides nothing
    return render(request, "x.html")

class SomeApi(ApiView):
    def get(self, request):
        return self._helper(request)

    def _helper(self, request):
        return Response({})
"""
GOOD_ACCESS = """
@case_endpoint(action="case.view")
def page(request, *, actor, case):
    return render(request, "x.html")

def other(request):
    actor = _dpo(request)
    return render(request, "y.html")

def _dpo(request):
    return policy.require_capability(policy.acting_user(request.user), X, action="a")

class SomeApi(ApiView):
    def get(self, request):
        return self._helper(request)

    def _helper(self, request):
        return policy.case_for_read(request.user, "r", action="a")
"""


def test_the_access_rule_catches_handlers_that_only_record_or_do_nothing():
    assert rules.handlers_without_access(BAD_ACCESS) == ["line 2: page", "line 7: get"]
    assert rules.handlers_without_access(GOOD_ACCESS) == []


BAD_EXCEPT = """
def page(request):
    try:
        services.grant_add(...)
    except GrantError as exc:
        messages.error(request, exc.detail)
    except (ValidationError, DomainError):
        pass
"""
GOOD_EXCEPT = """
def encounter_edit(request):
    try:
        services.encounter_update(...)
    except StaleVersion:
        show_both_versions()
"""


def test_the_error_rule_catches_views_that_translate_errors_themselves():
    assert rules.translating_excepts(BAD_EXCEPT) == [
        "line 5: page catches GrantError",
        "line 7: page catches ValidationError",
        "line 7: page catches DomainError",
    ]
    assert rules.translating_excepts(GOOD_EXCEPT) == []


BAD_IMPORT = """
def case_model():
    from cases.models import Case
    return Case
"""


def test_the_import_rule_catches_an_import_hidden_in_a_function():
    assert rules.late_project_imports(BAD_IMPORT) == ["line 3: case_model imports cases.models"]
    assert rules.late_project_imports("from cases.models import Case\n") == []


def test_the_other_rules_catch_their_bad_examples():
    bad_str = "class X:\n    def __str__(self):\n        return self.given_name\n"
    assert rules.encrypted_fields_in_str(bad_str, {"X": {"given_name"}}) == [
        "line 2: ['given_name']"
    ]
    assert rules.key_material('KEY = "' + "A" * 43 + '="') != []
    assert rules.cipher_construction("cipher = AESGCM(key)") != []
    assert rules.audit_row_changes("AccessEvent.objects.filter(pk=1).delete()") != []
    assert rules.project_imports(
        "import os\nfrom cases.models import Case\nimport haven.api\n"
    ) == [
        "cases.models",
        "haven.api",
    ]


# --- the rules, over the whole house -------------------------------------------------


def test_the_view_modules_are_all_checked():
    names = {_rel(path) for path in rules.VIEW_MODULES}
    assert {"audit/views.py", "audit/api.py", "access/views.py", "access/api.py"} <= names
    assert all(path.exists() for path in rules.VIEW_MODULES)


@pytest.mark.parametrize("path", rules.VIEW_MODULES, ids=_rel)
def test_no_view_module_queries_case_models_directly(path):
    """Every read goes through access.policy and the selectors, never ``Case.objects``."""
    assert rules.case_model_queries(path.read_text()) == []


@pytest.mark.parametrize("path", rules.VIEW_MODULES, ids=_rel)
def test_every_handler_makes_an_access_decision(path):
    assert rules.handlers_without_access(path.read_text()) == []


@pytest.mark.parametrize("path", rules.VIEW_MODULES, ids=_rel)
def test_no_view_translates_an_error_itself(path):
    assert rules.translating_excepts(path.read_text()) == []


def test_no_application_code_hides_an_import_in_a_function():
    """Dependencies point down, where import-linter sees them (data migrations too); the few late imports
    Django asks for (``AppConfig.ready``) are listed with their reason."""
    found = {}
    for path in [*rules.application_files(), *sorted(ROOT.glob("*/migrations/*.py"))]:
        rel = _rel(path)
        if any(rel.startswith(allowed) for allowed in rules.LATE_IMPORTS_ALLOWED):
            continue
        problems = rules.late_project_imports(path.read_text())
        if problems:
            found[rel] = problems
    assert found == {}


def test_cipher_objects_are_built_only_in_access_crypto():
    """AS9-STO-2: key material is used in one place. The benchmarks too: they time
    Haven's keys through ``access.crypto``, and never build a cipher of their own."""
    for path in [*rules.application_files(), *sorted(ROOT.glob("bench/**/*.py"))]:
        if _rel(path).startswith("access/crypto/"):
            continue
        assert rules.cipher_construction(path.read_text()) == [], _rel(path)


def test_no_migration_or_settings_file_holds_key_material():
    files = [*ROOT.glob("*/migrations/*.py"), *ROOT.glob("config/*.py")]
    assert files
    for path in files:
        assert rules.key_material(path.read_text()) == [], _rel(path)


def test_no_application_code_changes_or_deletes_audit_rows():
    """AS9-USE-2: besides the model-level refusal and the database triggers, no module
    outside tests and migrations so much as calls update or delete on an audit model."""
    for path in rules.application_files():
        assert rules.audit_row_changes(path.read_text()) == [], _rel(path)


def test_encrypted_fields_are_never_named_in_a_str_method():
    """Over every model module of every app: no ``__str__`` names an encrypted field."""
    encrypted = {
        model.__name__: {f.name for f in model._meta.get_fields() if isinstance(f, EncryptedField)}
        for model in apps.get_models()
    }
    modules = [*ROOT.glob("*/models.py"), *ROOT.glob("*/models/*.py")]
    assert len(modules) >= 5
    for path in modules:
        assert rules.encrypted_fields_in_str(path.read_text(), encrypted) == [], _rel(path)


def test_the_black_box_tests_import_nothing_from_the_project():
    """tests/acceptance knows Haven only through the contract, as an outside client
    does; an import from the project would let it lean on internals."""
    files = sorted((ROOT / "tests" / "acceptance").glob("*.py"))
    assert len(files) >= 5
    for path in files:
        assert rules.project_imports(path.read_text()) == [], path.name


# --- what only the running code can tell ------------------------------------------


def _all_patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            out += _all_patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            out.append((prefix + str(pattern.pattern), pattern.callback))
    return out


def test_every_url_outside_a_small_allow_list_requires_login():
    """LoginRequiredMiddleware covers pages; API views rely on the StaffGate permission."""
    # The catch-all answers a JSON 404; an invitation link is its own one-time credential;
    # the language control is offered on the sign-in page and reads nothing; a passkey
    # sign-in starts before there is a session (the sign-in policy decides whether it may,
    # access.passkey_views), and its script's translations are the library's own strings.
    public = {
        "login/",
        "language/",
        "api/schema/",
        "^api/",
        "account/invitation/<str:token>/",
        "account/2fa/passkey/authentication/begin/",
        "account/2fa/passkey/authentication/complete/",
        "account/2fa/passkey/jsi18n/",
    }
    for route, callback in _all_patterns(get_resolver()):
        if route.startswith("admin/") or route in public:
            continue
        if route.startswith("api/"):
            view_class = callback.view_class  # type: ignore[attr-defined]
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
            "legal_hold_at",
            "legal_hold_by",
            "retention_until",
            "close_reason",
            "closure_checklist",
            "storage_withdrawn_at",
            "follow_up_on",
            "created_by",
            "version",
            "updated_at",
        },
        "Encounter": {
            "id",
            "case",
            "occurred_at",
            "kind",
            "interpreter_used",
            "author",
            "care_critical",
            "follow_up_date",
            "version",
            "created_at",
            "updated_at",
        },
    }
    record = {"id", "case", "version", "created_by", "created_at", "updated_at"}
    clear["PlanGoal"] = record | {"agreed_on", "review_on", "status"}
    clear["CaseService"] = record | {"type", "status", "provider", "due_on"}
    clear["CaseTask"] = record | {"due_on", "assigned_to", "done_at"}
    clear["Attachment"] = record | {"kind", "media_type", "size", "stored_as", "consent"}
    # What is left after purge or erasure (AS9-END-1): dates and the reason, no content.
    clear["Tombstone"] = {
        "survivor",
        "reason",
        "opened_on",
        "closed_on",
        "retention_until",
        "ended_at",
        "completed_at",
        "files",
    }
    # The DPO's queue: references, kinds, dates and status (the reason and note sealed).
    clear["SubjectRequest"] = {
        "id",
        "survivor",
        "kind",
        "format",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "language",
        "sha256",
        "available_until",
        "downloaded_at",
        "passphrase_shown_at",
    }
    for name, allowed in clear.items():
        model = getattr(case_models, name)
        plain = {f.name for f in model._meta.concrete_fields if not isinstance(f, EncryptedField)}
        assert plain == allowed, f"{name}: unexpected clear fields {plain - allowed}"
