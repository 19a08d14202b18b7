"""Haven settings. Every value comes from the environment (see ``config/env.py``)."""

from __future__ import annotations

import datetime as dt
import socket

from csp.constants import NONE, SELF
from django.conf.locale import LANG_INFO

from config import env as haven_env
from config.env import BASE_DIR, DEMO, RELAXED, VAR_DIR, env, mandatory_secret

DEBUG = haven_env.DEBUG
SECRET_KEY = mandatory_secret("DJANGO_SECRET_KEY")
HAVEN_DEMO = DEMO
ALLOWED_HOSTS: list[str] = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if RELAXED else []
)

INSTALLED_APPS = [
    "haven.apps.HavenConfig",  # first: its ready() scrubs error messages
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "auditlog",
    "access.apps.AccessConfig",
    "audit.apps.AuditConfig",
    "cases.apps.CasesConfig",
    "carers.apps.CarersConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "access.middleware.KeyScopeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "haven.i18n.StaffLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "haven.web.HavenErrorMiddleware",
    "access.middleware.StaffGateMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "haven.i18n.context",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "access.context_processors.staff",
                "carers.context_processors.carers",
                "access.context_processors.unsaved_work",
            ],
        },
    },
]

VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'haven.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two concurrent
    # edits serialise instead of failing half-way (SQLite has no SELECT ... FOR UPDATE).
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "access.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # lockout first, before any password check
    "django.contrib.auth.backends.ModelBackend",
    # Passkey sign-in, where the sign-in policy allows it (access.passkey_views).
    "django_otp_webauthn.backends.WebAuthnBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The interface languages staff may choose (codes as in Django's LANGUAGES; each needs a
# catalogue under locale/, English is the source). The first is the default.
HAVEN_LANGUAGES: list[str] = env.list("HAVEN_LANGUAGES", default=["en", "fr", "es", "ar", "ru"])
LANGUAGE_CODE = HAVEN_LANGUAGES[0] if HAVEN_LANGUAGES else "en"
LANGUAGES = [(code, LANG_INFO.get(code, {}).get("name", code)) for code in HAVEN_LANGUAGES]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["haven.formats"]
LANGUAGE_COOKIE_SECURE = not RELAXED
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
# The organisation's time zone: every page and export shows times in it.
TIME_ZONE = env.str("TIME_ZONE", default=env.str("HAVEN_TIME_ZONE", default="UTC"))
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
ATTACHMENT_STORAGE = env.str(
    "HAVEN_ATTACHMENT_STORAGE", default="django.core.files.storage.FileSystemStorage"
)
# Only the app's own user may read the folder (what it holds is ciphertext anyway).
ATTACHMENT_OPTIONS: dict[str, object] = (
    {
        "location": env.str("HAVEN_ATTACHMENT_DIR", default=str(VAR_DIR / "attachments")),
        "directory_permissions_mode": 0o700,
        "file_permissions_mode": 0o600,
    }
    if ATTACHMENT_STORAGE == "django.core.files.storage.FileSystemStorage"
    else {}
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "config.storage.StaticStorage"
        if not RELAXED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    # Case attachments, sealed with the survivor's key before they reach the storage.
    # Any backend of Django's storage API serves (object storage with django-storages:
    # see docs/deployment.md); the folder is the default.
    "attachments": {"BACKEND": ATTACHMENT_STORAGE, "OPTIONS": ATTACHMENT_OPTIONS},
}
WHITENOISE_USE_FINDERS = RELAXED

# --- transport and cookies: secure unless this is explicitly a demo/debug machine ---
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not RELAXED)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if RELAXED else env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not RELAXED
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=not RELAXED)
SECURE_CONTENT_TYPE_NOSNIFF = True
# "same-origin", not "no-referrer": with no-referrer browsers send "Origin: null" on form
# posts and CSRF origin checking (rightly) refuses them. URLs carry references only.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not RELAXED
CSRF_COOKIE_SECURE = not RELAXED
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("HAVEN_SESSION_IDLE_SECONDS", default=15 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # the cookie age becomes an idle timeout
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# Uploads (scanned consent forms, attachments) stay in memory and are sealed there:
# never written to a temporary file in clear. A larger upload is refused.
HAVEN_ATTACHMENT_MAX_BYTES = env.int("HAVEN_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = HAVEN_ATTACHMENT_MAX_BYTES + 1024 * 1024

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# --- Haven ---
HAVEN_KEYRING_FILE = env.path("HAVEN_KEYRING_FILE", default=str(VAR_DIR / "keyring.json"))
HAVEN_KEYRING_AUTOCREATE = RELAXED
# Where the key-encryption keys live: "file" (the keyring above) or "pkcs11" (a hardware
# module or SoftHSM2; docs/key-management.md). During a move from the file into a token,
# HAVEN_PREVIOUS_KEYRING_FILE names the old file, only read, until `keys rotate` is done.
HAVEN_KEY_PROVIDER = env.str("HAVEN_KEY_PROVIDER", default="file")
HAVEN_PKCS11_MODULE = env.str("HAVEN_PKCS11_MODULE", default="")
HAVEN_PKCS11_TOKEN = env.str("HAVEN_PKCS11_TOKEN", default="")
HAVEN_PKCS11_PIN_FILE = env.str("HAVEN_PKCS11_PIN_FILE", default="")
HAVEN_PREVIOUS_KEYRING_FILE = env.str("HAVEN_PREVIOUS_KEYRING_FILE", default="")
# Passkeys (WebAuthn, docs/passkeys.md): bound to the site's domain (the relying party
# id) and accepted only from these origins. A passkey made for any other site is refused.
OTP_WEBAUTHN_RP_ID = env.str(
    "HAVEN_WEBAUTHN_RP_ID",
    default="localhost" if RELAXED or not ALLOWED_HOSTS else ALLOWED_HOSTS[0].lstrip("."),
)
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list(
    "HAVEN_WEBAUTHN_ORIGINS",
    default=(
        ["http://localhost:8000", "https://localhost:8000"]
        if RELAXED
        else [f"https://{OTP_WEBAUTHN_RP_ID}"]
    ),
)
OTP_WEBAUTHN_RP_NAME = "Haven"
# Passkey sign-in without a password is offered only where the organisation's sign-in
# policy allows it (access.passkeys); the library's own switch stays on so that the
# policy, not a deploy, decides.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = True
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = ""
HAVEN_TOKEN_DEFAULT_DAYS = env.int("HAVEN_TOKEN_DEFAULT_DAYS", default=30)

# --- API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.StaffGate"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cases.api.parsers.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "haven.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Haven API",
    "DESCRIPTION": (
        "Case records for organisations caring for survivors of human trafficking. "
        "Every read is logged; identity is never returned except by the identity endpoint."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Component names that generated clients already use keep their names (KindEnum is
    # the encounter's kind, StatusEnum a medication's); the newer enums get their own.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "cases.models.EncounterKind",
        "StatusEnum": "cases.validators.MEDICATION_STATUSES",
        "AttachmentKindEnum": "cases.models.AttachmentKind",
        "GoalStatusEnum": "cases.models.GoalStatus",
        "ServiceStatusEnum": "cases.models.ServiceStatus",
        "ReceiverStatusEnum": "cases.models.ReceiverStatus",
        "OutcomeEnum": "audit.models.Outcome",
        "FormatEnum": "cases.models.ReferralFormat",
        "RequestFormatEnum": "cases.models.RequestFormat",
        "RequestKindEnum": "cases.models.RequestKind",
        "DecisionEnum": [("approve", "approve"), ("refuse", "refuse")],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "haven.api.declare_common_responses",
    ],
}

GUARDIAN_MONKEY_PATCH_USER = False
ANONYMOUS_USER_NAME = None

# Logs carry request ids and references only; survivor data is never logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"no_survivor_data": {"()": "haven.logging.NoSurvivorData"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_survivor_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("HAVEN_LOG_LEVEL", default="WARNING")},
    "loggers": {
        # The default request logger can include POST data in debug tracebacks.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "haven.logging.SurvivorDataExceptionFilter"

# guardian's ObjectPermissionBackend is deliberately not installed: ``user.has_perm(obj)``
# would ignore grant expiry and revocation. All object access goes through access.policy.
# axes.W006 asks for an IP-address lock as well. Haven locks per username, which rotating
# user agents, cookies or addresses cannot escape; an IP lock would lock out a whole
# clinic sharing one address after a few mistyped passwords.
SILENCED_SYSTEM_CHECKS = ["guardian.W001", "axes.W006"]
# Truncation of a new blind-index key: 256 digests, so that in an organisation of a few
# hundred to a few thousand survivors several share each digest. `keys plan-index
# --population N` recommends a value for another size; `keys reindex --bits` applies it.
HAVEN_BLIND_INDEX_BITS = env.int("HAVEN_BLIND_INDEX_BITS", default=8)
HAVEN_BREAK_GLASS_HOURS = env.int("HAVEN_BREAK_GLASS_HOURS", default=4)
# How long a closed case is kept before it may be purged (six years by default).
HAVEN_RETENTION_DAYS = env.int("HAVEN_RETENTION_DAYS", default=2190)
# Statistics: every published count under this is suppressed (docs/data-protection.md).
HAVEN_STATS_MIN_CELL = max(2, env.int("HAVEN_STATS_MIN_CELL", default=5))
# Emergency accesses one person may have open at once; beyond that a supervisor grants.
HAVEN_BREAK_GLASS_MAX_OPEN = env.int("HAVEN_BREAK_GLASS_MAX_OPEN", default=3)
HAVEN_SESSION_MAX_SECONDS = env.int("HAVEN_SESSION_MAX_SECONDS", default=12 * 3600)
# How long a form kept at a session timeout waits for its author to sign in again.
HAVEN_DRAFT_DAYS = env.int("HAVEN_DRAFT_DAYS", default=7)
# Clinical supervision (AS8-3): a staff member whose last session is older is overdue.
HAVEN_SUPERVISION_DAYS = env.int("HAVEN_SUPERVISION_DAYS", default=30)
# The audit log's sequencer: "thread" runs one in each app process, a short while after
# events are written; "off" leaves it to `manage.py audit_sequencer` (and the tests).
HAVEN_AUDIT_SEQUENCER = env.str("HAVEN_AUDIT_SEQUENCER", default="thread")
HAVEN_AUDIT_SEQUENCE_SECONDS = env.float("HAVEN_AUDIT_SEQUENCE_SECONDS", default=0.5)
# The scheduled check of the audit log, run by the same sequencer (thread or command):
# incremental (the leaves added since) every few minutes, full once a day, and a full
# one at once when the DPO asks. Pages and the API show the newest result.
HAVEN_AUDIT_CHECK_MINUTES = env.float("HAVEN_AUDIT_CHECK_MINUTES", default=5)
HAVEN_AUDIT_FULL_CHECK_HOURS = env.float("HAVEN_AUDIT_FULL_CHECK_HOURS", default=24)
# Forwarding the audit log to outside collectors as it is sequenced (audit.forward,
# docs/deployment.md): RFC 5424 syslog over TCP ("tcp://host:601") or TLS
# ("tls://host:6514", checked against HAVEN_SYSLOG_CA or the system's CAs), and FHIR
# AuditEvents (IHE BALP) posted as batch bundles to a FHIR server's base URL.
HAVEN_AUDIT_SOURCE = env.str("HAVEN_AUDIT_SOURCE", default=socket.gethostname() or "haven")
HAVEN_SYSLOG_URL = env.str("HAVEN_SYSLOG_URL", default="")
HAVEN_SYSLOG_CA = env.str("HAVEN_SYSLOG_CA", default="")
HAVEN_FHIR_AUDIT_URL = env.str("HAVEN_FHIR_AUDIT_URL", default="")
HAVEN_FHIR_AUDIT_CA = env.str("HAVEN_FHIR_AUDIT_CA", default="")
HAVEN_FHIR_AUDIT_TOKEN_FILE = env.str("HAVEN_FHIR_AUDIT_TOKEN_FILE", default="")
HAVEN_FORWARD_TIMEOUT_SECONDS = env.float("HAVEN_FORWARD_TIMEOUT_SECONDS", default=10.0)
HAVEN_REQUIRE_2FA = env.bool("HAVEN_REQUIRE_2FA", default=not DEMO)

# --- sign-in hardening (AS9-STO-5) ---
# Lock a username (existing or not, so the answer reveals nothing) after 5 failures, for
# 15 minutes; a success resets the count.
AXES_FAILURE_LIMIT = env.int("HAVEN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("HAVEN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "access.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False
HAVEN_ORGANISATION_NAME = env.str("HAVEN_ORGANISATION_NAME", default="Haven")
# The sender's contact on referral letters: address, phone, e-mail, one per line ("\n").
HAVEN_ORGANISATION_CONTACT = env.str("HAVEN_ORGANISATION_CONTACT", default="").replace("\\n", "\n")
OTP_TOTP_ISSUER = HAVEN_ORGANISATION_NAME

AUDITLOG_MASK_CALLABLE = "audit.masking.constant_mask"
AUDITLOG_DISABLE_REMOTE_ADDR = False
# Reads outside these local hours are flagged for the DPO (start, end).
HAVEN_WORKING_HOURS = tuple(env.list("HAVEN_WORKING_HOURS", cast=int, default=[7, 20]))
