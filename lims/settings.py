"""One settings module, driven by the environment.

Nothing set: the embedded mode (SQLite in WAL mode, Celery tasks run eagerly in-process, files on
local disk, DEBUG on, a generated development secret). ``DATABASE_URL`` switches to PostgreSQL,
``CELERY_BROKER_URL`` to a real broker with real workers, ``LIMS_ENV=production`` to hardened
settings that refuse to start without a secret and allowed hosts. Every variable is listed in the
README's settings table.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_bool(name: str, *, default: bool) -> bool:
    raw = _env(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false).")


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in _env(name).split(",") if item.strip()]


LIMS_ENV = _env("LIMS_ENV", "development").lower()
if LIMS_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"LIMS_ENV={LIMS_ENV!r}: use 'development' or 'production'.")
IS_PRODUCTION = LIMS_ENV == "production"

# Local state of the embedded mode (SQLite file, media, the generated secret) lives in one folder.
VAR_DIR = Path(_env("LIMS_VAR_DIR") or BASE_DIR / "var")
# Local state: the embedded mode's SQLite file and media, the dev secret, beat's schedule file.
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret() -> str:
    """A random secret kept in var/ so that sessions survive a restart of the demo."""
    secret_file = VAR_DIR / "dev-secret-key"
    if secret_file.exists():
        return secret_file.read_text().strip()
    secret = secrets.token_urlsafe(50)
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    return secret


if IS_PRODUCTION:
    SECRET_KEY = _env("LIMS_SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("LIMS_ENV=production needs LIMS_SECRET_KEY (50+ characters).")
    ALLOWED_HOSTS = _env_list("LIMS_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("LIMS_ENV=production needs LIMS_ALLOWED_HOSTS (comma-separated).")
    DEBUG = False
else:
    SECRET_KEY = _env("LIMS_SECRET_KEY") or _development_secret()
    ALLOWED_HOSTS = _env_list("LIMS_ALLOWED_HOSTS") or ["localhost", "127.0.0.1", "[::1]", "testserver"]
    DEBUG = _env_bool("LIMS_DEBUG", default=True)

CSRF_TRUSTED_ORIGINS = _env_list("LIMS_CSRF_TRUSTED_ORIGINS")

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
    "drf_spectacular_sidecar",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    # Its abstract key model is the base of PartnerApiKey; the app must be installed to import it.
    "rest_framework_api_key",
    "assays",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # pghistory attaches the request's user and URL to every row-level history event.
    "assays.history_context.HistoryContextMiddleware",
]

ROOT_URLCONF = "lims.urls"
WSGI_APPLICATION = "lims.wsgi.application"
ASGI_APPLICATION = "lims.asgi.application"

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
                "assays.web.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = _env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "lims.sqlite3"),
            "OPTIONS": {
                # WAL lets the web process read while a task writes; IMMEDIATE takes the write
                # lock at BEGIN so two writers queue on the busy timeout instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
USES_POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery -----------------------------------------------------------------------------------
# Without a broker the tasks run eagerly in-process (embedded mode); the code path is the same.
CELERY_BROKER_URL = _env("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_ALWAYS_EAGER = not _env("CELERY_BROKER_URL")
# The cache holds per-key request counts (throttling): shared by every web process in the stack
# mode, so a partner's rate is one rate however many processes serve it. LIMS_CACHE_URL, else the
# broker's Redis; in the embedded mode a process-local cache is the whole story.
_CACHE_URL = _env("LIMS_CACHE_URL") or (_env("CELERY_BROKER_URL") if (_env("CELERY_BROKER_URL") or "").startswith("redis") else "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL, "KEY_PREFIX": "lims-cache"}
        if _CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CELERY_TASK_EAGER_PROPAGATES = True
# Results live in domain tables, never in a Celery result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = _env("LIMS_CELERY_QUEUE") or "lims"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "assays.tasks.record_worker_heartbeat", "schedule": 60.0},
    # The database, not the broker, is the source of truth: a run whose evaluation message was
    # lost (broker down, worker killed) is found here and enqueued again.
    "sweep-pending-runs": {"task": "assays.tasks.sweep_pending_runs", "schedule": 300.0},
    "assess-stale-lots": {"task": "assays.tasks.assess_stale_lots", "schedule": 60.0},
    "sweep-reassessments": {"task": "assays.tasks.sweep_reassessments", "schedule": 300.0},
    "render-pending-certificates": {"task": "assays.tasks.render_pending_certificates", "schedule": 60.0},
    "deliver-due-webhooks": {"task": "assays.tasks.deliver_due_webhooks", "schedule": 60.0},
}

# --- Run QC -----------------------------------------------------------------------------------
# A run still pending QC this long after import is swept up (its message was lost).
LIMS_QC_SWEEP_GRACE_SECONDS = float(_env("LIMS_QC_SWEEP_GRACE_SECONDS") or 300)
# Control charts without a lab-set baseline period take their mean and s from their first points.
LIMS_SPC_BASELINE_POINTS = int(_env("LIMS_SPC_BASELINE_POINTS") or 20)

# --- Reassessment ---------------------------------------------------------------------------
# Lots per worker message when a product's lots are reassessed (a specification changed).
LIMS_REASSESS_CHUNK = int(_env("LIMS_REASSESS_CHUNK") or 200)
# A reassessment with no chunk finished for this long has its unfinished chunks enqueued again.
LIMS_REASSESS_SWEEP_GRACE_SECONDS = float(_env("LIMS_REASSESS_SWEEP_GRACE_SECONDS") or 600)

# --- Certificates -----------------------------------------------------------------------------
# The lab's signing key and certificate (PEM). `manage.py seed_demo` makes a self-signed pair at
# these default paths for the demo and says so; a lab puts its own (from its CA or an HSM export).
LIMS_SIGNING_KEY_FILE = Path(_env("LIMS_SIGNING_KEY_FILE") or VAR_DIR / "signing" / "lab-key.pem")
LIMS_SIGNING_CERT_FILE = Path(_env("LIMS_SIGNING_CERT_FILE") or VAR_DIR / "signing" / "lab-cert.pem")
# Where the verification page is reached from outside: the QR code on a certificate points here.
LIMS_PUBLIC_BASE_URL = (_env("LIMS_PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")

# --- Partner access ----------------------------------------------------------------------------
# Requests per key (or partner user) unless the key sets its own rate; DRF's notation.
LIMS_PARTNER_API_RATE = _env("LIMS_PARTNER_API_RATE") or "1200/min"

# --- Webhooks (docs/webhooks.md) ----------------------------------------------------------------
# Production calls partners over https only, and never an address inside the lab's network
# (loopback, private, link-local: a webhook must not be a way in). The demo and the tests call a
# receiver on 127.0.0.1 over plain http.
LIMS_WEBHOOK_ALLOW_HTTP = _env_bool("LIMS_WEBHOOK_ALLOW_HTTP", default=not IS_PRODUCTION)
LIMS_WEBHOOK_ALLOW_PRIVATE = _env_bool("LIMS_WEBHOOK_ALLOW_PRIVATE", default=not IS_PRODUCTION)
LIMS_WEBHOOK_TIMEOUT_SECONDS = float(_env("LIMS_WEBHOOK_TIMEOUT_SECONDS") or 10)
# Attempts per delivery before it is marked failed; the waits between them double from the base.
LIMS_WEBHOOK_MAX_ATTEMPTS = int(_env("LIMS_WEBHOOK_MAX_ATTEMPTS") or 8)
LIMS_WEBHOOK_RETRY_BASE_SECONDS = float(_env("LIMS_WEBHOOK_RETRY_BASE_SECONDS") or 30)
LIMS_WEBHOOK_RETRY_MAX_SECONDS = float(_env("LIMS_WEBHOOK_RETRY_MAX_SECONDS") or 3600)
# A delivery this long past its next attempt has lost its message; the beat sweep sends it again.
LIMS_WEBHOOK_SWEEP_GRACE_SECONDS = float(_env("LIMS_WEBHOOK_SWEEP_GRACE_SECONDS") or 300)

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = _env("LIMS_TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(_env("LIMS_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production whitenoise serves straight from the source folders (no collectstatic needed
# for the demo or the tests); production serves the hashed, compressed copies in STATIC_ROOT.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = not IS_PRODUCTION
MEDIA_URL = "media/"
MEDIA_ROOT = Path(_env("LIMS_MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = _env("LIMS_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if IS_PRODUCTION else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = _env("LIMS_DEFAULT_FROM_EMAIL") or "lims@localhost"

# --- The lab ----------------------------------------------------------------------------------
# A fresh installation has one site, named here, so a single-lab user never has to think about sites.
LIMS_DEFAULT_SITE_CODE = _env("LIMS_DEFAULT_SITE_CODE") or "MAIN"
LIMS_DEFAULT_SITE_NAME = _env("LIMS_DEFAULT_SITE_NAME") or "Main laboratory"
LIMS_DEFAULT_SITE_COUNTRY = (_env("LIMS_DEFAULT_SITE_COUNTRY") or "GB").upper()

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Sessions first (staff and the browsable API); a partner key is accepted everywhere so that a
    # dead key is refused with 401 wherever it is sent, and a live one with 403 off the partner API.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "assays.api.partner_auth.PartnerApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["assays.api.permissions.IsStaffMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "EXCEPTION_HANDLER": "assays.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "REO assay LIMS API",
    "DESCRIPTION": "Lots, samples and results of rare-earth-oxide assay, scoped to the caller.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; each choice set gets a component named after its enum.
    "ENUM_NAME_OVERRIDES": {
        "LotKindEnum": "assays.models.lots.LotKind",
        "LotStatusEnum": "assays.models.lots.LotStatus",
        "SampleStatusEnum": "assays.models.samples.SampleStatus",
        "RunStatusEnum": "assays.models.runs.RunStatus",
        # A flag's kind and status appear in the flag list and the flag detail: one enum each.
        "FlagKindEnum": "assays.models.assessments.FlagKind",
        "FlagStatusEnum": "assays.models.assessments.FlagStatus",
        # A certificate's kind and status (list, detail and the list's filters).
        "CertificateKindEnum": "assays.models.certificates.CertificateKind",
        "CertificateStatusEnum": "assays.models.certificates.CertificateStatus",
    },
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = _env_bool("LIMS_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(_env("LIMS_HSTS_SECONDS") or 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _env("LIMS_LOG_LEVEL") or "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
