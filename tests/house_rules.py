"""The house rules as functions over source text (Zulip's custom-check idea): each
returns its violations, so that tests/test_conventions.py can run it over the whole
house *and* over bad examples that it must catch. A rule that silently stops working
fails its own test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = {"access", "audit", "cases", "config", "haven", "bench"}

# Every module that answers requests, found by name so that a new one cannot be missed:
# views.py, *_views.py, views/*.py, api.py and the api/ package's modules of every app
# (haven.api and haven.web are the plumbing they share, with no handler of their own).
APPS = {"access", "audit", "cases", "carers"}
VIEW_MODULES = sorted(
    path
    for pattern in ("*/views.py", "*/*_views.py", "*/views/*.py", "*/api.py", "*/api/*.py")
    for path in ROOT.glob(pattern)
    if path.relative_to(ROOT).parts[0] in APPS
    and path.name not in ("__init__.py", "serializers.py", "urls.py", "parsers.py")
)

CASE_MODELS = {
    "Case",
    "Encounter",
    "Identity",
    "Survivor",
    "Revision",
    "CaseGrant",
    "Consent",
    "PlanGoal",
    "CaseService",
    "CaseTask",
    "Attachment",
    "Referral",
}

# A call to one of these, or one of the declarations, is an access decision made by
# access.policy. Recording a list (record_list) is not: it decides nothing.
ACCESS_CALLS = {
    "case_for_read",
    "case_for_write",
    "case_for_break_glass",
    "case_for_governance",
    "access_report_for",
    "require_capability",
    "acting_user",
}
ACCESS_DECLARATIONS = {"case_endpoint", "staff_endpoint", "governance_endpoint"}
HTTP_METHODS = {"get", "post", "patch", "put", "delete"}

# Handlers that rightly make no access call, with the reason.
NO_ACCESS_NEEDED = {
    "locked_out": "django-axes' lockout answer, for an anonymous visitor",
    "invitation": "the invited person has no account session yet; the one-time link is "
    "the credential (hashed, a week, spent on use), checked by access.staff",
    "language": "the language control on every page, the sign-in page too: it reads no "
    "data and writes only the caller's own language (tests/i18n)",
}

ERROR_NAMES = {
    "HavenError",
    "DomainError",
    "GrantError",
    "ConsentRequired",
    "StaleVersion",
    "ValidationError",
    "CryptoError",
    "DataKeyDestroyed",
    "RecordErased",
    "AlreadyHasAccess",
    "BreakGlassLimit",
    "PermissionDenied",
    "Http404",
    "KeyringUnavailable",
}
# A view may catch an error when it does more than translate it, named here with why.
HANDLED_ON_PURPOSE = {
    ("encounter_edit", "StaleVersion"): "shows the other person's version beside the form",
    ("break_glass", "AlreadyHasAccess"): "sends the user to the case they can already open",
    ("break_glass", "PermissionDenied"): "answers in the form without revealing the case",
    ("break_glass", "Http404"): "answers in the form without revealing the case",
}

# Imports inside a function, allowed where Django documents them or a cycle cannot be
# avoided, with the reason.
LATE_IMPORTS_ALLOWED = {
    "access/apps.py": "AppConfig.ready registers the system checks",
    "audit/apps.py": "AppConfig.ready connects the change-log signal",
    "cases/apps.py": "AppConfig.ready registers the case models with the change log",
    "haven/apps.py": "AppConfig.ready rewords the error messages once the apps are loaded",
    "tests/": "tests",
}


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _names_called(func: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
            elif isinstance(node.func, ast.Name):
                names.add(node.func.id)
    return names


def _decorators(func: ast.FunctionDef) -> set[str]:
    names = set()
    for decorator in func.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def case_model_queries(source: str) -> list[str]:
    """``Case.objects`` (or a manager of another case model) used in a view module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager"):
            name = getattr(node.value, "id", getattr(node.value, "attr", ""))
            if name in CASE_MODELS:
                found.append(f"line {node.lineno}: {name}.{node.attr}")
    return found


def handlers_without_access(source: str) -> list[str]:
    """Public view functions and HTTP-method handlers with no access declaration and no
    access call, following the private helpers they call (of their class and of the
    module)."""
    tree = ast.parse(source)
    module_helpers = {n: f for n, f in _functions(tree).items() if n.startswith("_")}
    handlers: list[tuple[ast.FunctionDef, dict[str, ast.FunctionDef]]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            handlers.append((node, module_helpers))
        elif isinstance(node, ast.ClassDef):
            methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
            helpers = {**module_helpers, **{n: m for n, m in methods.items() if n.startswith("_")}}
            handlers += [(m, helpers) for n, m in methods.items() if n in HTTP_METHODS]
    missing = []
    for func, helpers in handlers:
        if func.name in NO_ACCESS_NEEDED:
            continue
        seen: set[str] = set()
        pending = [func]
        granted = False
        while pending and not granted:
            current = pending.pop()
            granted = bool(
                _decorators(current) & ACCESS_DECLARATIONS or _names_called(current) & ACCESS_CALLS
            )
            for name in _names_called(current) & set(helpers) - seen:
                seen.add(name)
                pending.append(helpers[name])
        if not granted:
            missing.append(f"line {func.lineno}: {func.name}")
    return missing


def translating_excepts(source: str) -> list[str]:
    """``except`` clauses in view code that catch an error of the family (or Django's
    refusals) to translate it: the API handler and haven.web do that, once."""
    found = []
    tree = ast.parse(source)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.ExceptHandler) or node.type is None:
                continue
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            for caught in types:
                name = getattr(caught, "id", getattr(caught, "attr", ""))
                if name in ERROR_NAMES and (func.name, name) not in HANDLED_ON_PURPOSE:
                    found.append(f"line {node.lineno}: {func.name} catches {name}")
    return found


def late_project_imports(source: str) -> list[str]:
    """Imports of Haven's own packages inside a function (a dependency hidden from the
    layer contract, usually to dodge a cycle)."""
    found = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            module = ""
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            if module.split(".")[0] in PROJECT_PACKAGES:
                found.append(f"line {node.lineno}: {func.name} imports {module}")
    return found


def encrypted_fields_in_str(source: str, encrypted: dict[str, set[str]]) -> list[str]:
    """``__str__`` or ``__repr__`` of a class that names one of that class's encrypted
    fields (``encrypted``: class name → its encrypted field names)."""
    found = []
    for cls in ast.walk(ast.parse(source)):
        if not isinstance(cls, ast.ClassDef):
            continue
        own = encrypted.get(cls.name, set())
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name in {"__str__", "__repr__"}:
                names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                if names & own:
                    found.append(f"line {node.lineno}: {sorted(names & own)}")
    return found


BASE64_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")


def key_material(text: str) -> list[str]:
    return [f"offset {m.start()}" for m in BASE64_KEY.finditer(text)]


CIPHER = re.compile(r"\b(AESGCM|Fernet|ChaCha20Poly1305)\(")


def cipher_construction(text: str) -> list[str]:
    return [f"offset {m.start()}: {m.group(1)}" for m in CIPHER.finditer(text)]


AUDIT_WRITE = re.compile(
    r"(AccessEvent|LogLeaf|LogNode|TreeHead|LogEntry|Anomaly)\.objects[^\n]*\.(update|delete|bulk_update)\("
)


def audit_row_changes(text: str) -> list[str]:
    return [m.group(0) for m in AUDIT_WRITE.finditer(text)]


def project_imports(source: str) -> list[str]:
    """Every import of a project package (for the black-box tests, which may have none)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]
    return found


def application_files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.glob("*/**/*.py")
        if path.relative_to(ROOT).parts[0] in PROJECT_PACKAGES - {"bench"}
        and "migrations" not in path.parts
    )
