"""Haven settings. Every value comes from the environment (see ``config/env.py``)."""

from __future__ import annotations

import datetime as dt

from csp.constants import NONE, SELF

from config import env as haven_env
from config.env import BASE_DIR, DEMO, RELAXED, VAR_DIR, env, mandatory_secret

DEBUG = haven_env.DEBUG
SECRET_KEY = mandatory_secret("DJANGO_SECRET_KEY")
HAVEN_DEMO = DEMO
ALLOWED_HOSTS: list[str] = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if RELAXED else []
)

INSTALLED_APPS = [
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
    "axes",
    "auditlog",
    "access.apps.AccessConfig",
    "audit.apps.AuditConfig",
    "cases.apps.CasesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "access.middleware.CryptoFailureMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "access.context_processors.staff",
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
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:my-cases"
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

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("HAVEN_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not RELAXED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
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
HAVEN_TOKEN_DEFAULT_DAYS = env.int("HAVEN_TOKEN_DEFAULT_DAYS", default=30)

# --- API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.StaffGate"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "cases.api.errors.exception_handler",
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
}

GUARDIAN_MONKEY_PATCH_USER = False
ANONYMOUS_USER_NAME = None

# Logs carry request ids and references only; survivor data is never logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HAVEN_LOG_LEVEL", default="WARNING")},
    "loggers": {
        # The default request logger can include POST data in debug tracebacks.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "access.logging.SurvivorDataExceptionFilter"

# guardian's ObjectPermissionBackend is deliberately not installed: ``user.has_perm(obj)``
# would ignore grant expiry and revocation. All object access goes through access.policy.
# axes.W006 asks for an IP-address lock as well. Haven locks per username, which rotating
# user agents, cookies or addresses cannot escape; an IP lock would lock out a whole
# clinic sharing one address after a few mistyped passwords.
SILENCED_SYSTEM_CHECKS = ["guardian.W001", "axes.W006"]
HAVEN_BLIND_INDEX_BITS = env.int("HAVEN_BLIND_INDEX_BITS", default=14)
HAVEN_BREAK_GLASS_HOURS = env.int("HAVEN_BREAK_GLASS_HOURS", default=4)
HAVEN_SESSION_MAX_SECONDS = env.int("HAVEN_SESSION_MAX_SECONDS", default=12 * 3600)
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
OTP_TOTP_ISSUER = env.str("HAVEN_ORGANISATION_NAME", default="Haven")

AUDITLOG_MASK_CALLABLE = "audit.masking.constant_mask"
AUDITLOG_DISABLE_REMOTE_ADDR = False
# Reads outside these local hours are flagged for the DPO (start, end).
HAVEN_WORKING_HOURS = tuple(env.list("HAVEN_WORKING_HOURS", cast=int, default=[7, 20]))
