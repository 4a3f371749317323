"""Project settings, read from the environment (one file; see README "Configuration").

Defaults give a working single-machine run: SQLite and Celery in eager mode. Values that protect
data in production (SECRET_KEY, FIELD_ENCRYPTION_KEYS) are required when DEBUG is off.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_required(name: str, dev_default: str) -> str:
    """A value production must set; development falls back to a fixed, clearly unsafe one."""
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see README, Configuration).")


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_required("SECRET_KEY", "dev-only-insecure-secret-key-do-not-use-in-production")
# MultiFernet keys, newest first: encrypt with the first, decrypt with any (key rotation).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or (
    ["ZGV2LW9ubHktaW5zZWN1cmUta2V5LWRvLW5vdC11c2U="] if DEBUG else []
)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off: one or more Fernet keys, "
        "comma-separated, newest first."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Invitations are e-mailed. In development the console backend prints them where `make run`
# runs; production names its backend (SMTP settings are Django's EMAIL_HOST and friends).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "actions@localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "axes",
    "csp",
    "workspaces",
    "gpts",
    "actions",
    "api",
    "editor",
    "sandbox",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body: too large a body, or text PostgreSQL can not store, is a
    # 413/400 with a readable answer rather than Django's bare page or a 500.
    "config.middleware.RequestLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a login axes refused into the 429 page (config/login.py).
    "axes.middleware.AxesMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Shared by every web process when CACHE_URL points at Redis (login throttling counts there).
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
# Login throttling: django-axes, configured in config/login.py's terms (see its docstring).
AUTHENTICATION_BACKENDS = [
    "config.login.LoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
# Proxies in front of the web processes that append the client's address to X-Forwarded-For
# (1 behind one load balancer); 0 trusts no header and counts REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_FAILURE_LIMIT = "config.login.failure_limit"  # LOGIN_MAX_FAILURES, read at each request
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "config.login.ThrottleHandler"
AXES_USERNAME_CALLABLE = "config.login.counted_username"
AXES_CLIENT_IP_CALLABLE = "config.login.client_address"
AXES_LOCKOUT_CALLABLE = "config.login.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Every successful login would be a row forever; failures are what the throttle needs.
AXES_DISABLE_ACCESS_LOG = True
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Every time shown says its zone (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Production hardening; `manage.py check --deploy` is clean with DEBUG off and HTTPS on.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp): scripts and styles from our own
# static files only, no inline code, no plugins, not framed. `data:` images: Swagger UI's icons
# are data URIs in its stylesheet. No form-action: the OAuth consent form's answer is a redirect
# to the client's callback on another origin, which form-action would block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # ApiView lists its own; these hold for DRF views that are not ApiViews (the schema, docs).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.scopes.TokenScopeRequired",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kernel.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Actions platform API",
    "DESCRIPTION": "Builders' and programs' API: workspaces, GPTs, actions, runs, connections.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Path parameters as the URL converters match them (a value outside never reaches a view).
    "PATH_CONVERTER_OVERRIDES": {
        "int": {"type": "integer", "minimum": 0},
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
        "str": {"type": "string", "pattern": "^[^/]+$"},
    },
    # The shared error answers ({"code","detail"}: 400/401/403/404/413/415) on every operation.
    # One name for the approval choices, wherever a field lists them (run, chat consent, a
    # chat's pending call).
    "ENUM_NAME_OVERRIDES": {
        "ConsentEnum": "actions.runtime.run.CONSENT_CHOICES",
        # Two fields named "role": a member's role in a workspace, a chat message's author.
        "MemberRoleEnum": "workspaces.models.Role.values",
        "MessageRoleEnum": "chat.models.Role",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.openapi_hooks.add_error_responses",
    ],
}
# The sandbox's OAuth provider runs on http://127.0.0.1 in development and tests only.
OAUTH_PROVIDER_ALLOW_HTTP_REDIRECTS = env_bool("OAUTH_PROVIDER_ALLOW_HTTP_REDIRECTS", default=DEBUG)
OAUTH2_PROVIDER = {
    # oauthlib's server minus the password grant (a password oracle otherwise; see the class).
    "OAUTH2_SERVER_CLASS": "config.oauth_server.Server",
    "PKCE_REQUIRED": True,
    # RFC 9700 (OAuth 2.0 Security BCP) behaviour throughout.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": not OAUTH_PROVIDER_ALLOW_HTTP_REDIRECTS,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"]
    if OAUTH_PROVIDER_ALLOW_HTTP_REDIRECTS
    else ["https"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("API_TOKEN_EXPIRE_SECONDS", 3600),
    "OAUTH2_VALIDATOR_CLASS": "config.oauth_server.Validator",
    # What the consent page tells the person, scope by scope (api/scopes.py enforces them).
    "SCOPES": {
        "read": "Read your workspaces, GPTs, actions and connections",
        "write": "Create, change and delete GPTs, actions and workspace settings (including "
        "the domain policy) on your behalf, and run actions as you",
        "mcp": "Use your GPTs' tools through the MCP endpoint as you",
        "todos": "Read and change your sandbox to-do list (nothing else)",
    },
    "DEFAULT_SCOPES": ["read"],
    # RFC 8414 metadata (/.well-known/oauth-authorization-server) says what is really accepted.
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    # RFC 7591 for MCP clients (mcp_gateway/registration.py bounds it; its clients get `mcp`
    # tokens for one GPT only). The view's own permission check is open: the bounds are ours.
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
}

# MCP endpoints (mcp_gateway/, DESIGN.md §6).
MCP_SESSION_IDLE_SECONDS = env_int("MCP_SESSION_IDLE_SECONDS", 1800)
MCP_MAX_SESSIONS = env_int("MCP_MAX_SESSIONS", 10_000)
MCP_DCR_PER_ADDRESS_PER_HOUR = env_int("MCP_DCR_PER_ADDRESS_PER_HOUR", 20)
MCP_DCR_MAX_CLIENTS = env_int("MCP_DCR_MAX_CLIENTS", 10_000)

# Celery: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A task a worker took but never acknowledged (the worker was killed) goes back to the queue
# after the visibility timeout; the fault tests shorten it (CELERY_VISIBILITY_TIMEOUT=5).
_visibility_timeout = env_int("CELERY_VISIBILITY_TIMEOUT", 600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    # Workers look for such abandoned tasks every fifth of the timeout (at most every 10 s).
    "unacked_restore_interval": max(1, min(10, _visibility_timeout // 5)),
    "unacked_restore_throttle": 1,
    # A broker that is down or frozen must not hang a web request that queues a task: connect
    # and every command give up after 2 s, and a publish is tried twice (the second attempt
    # on a fresh connection, which is what a restarted broker needs). Measured: a stopped
    # broker is refused in under a second, a frozen one in about 2 s (tests/faults).
    "max_retries": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
# Celery's own scheduler (run `celery -A config beat`, or a worker with -B): imports that
# could not be queued while the broker was away are queued again once it is back.
CELERY_BEAT_SCHEDULE = {
    "dispatch-pending-imports": {
        "task": "actions.tasks.dispatch_pending_imports",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
}

# Actions
OUTBOUND_ALLOW_PRIVATE = env_list("OUTBOUND_ALLOW_PRIVATE")
OAUTH_TOKEN_TIMEOUT = env_int("OAUTH_TOKEN_TIMEOUT", 15)
OAUTH_REFRESH_MARGIN_SECONDS = env_int("OAUTH_REFRESH_MARGIN_SECONDS", 60)
SCHEMA_MAX_BYTES = env_int("SCHEMA_MAX_BYTES", 5 * 1024 * 1024)
# The largest request body any page or endpoint reads: a schema of SCHEMA_MAX_BYTES still fits
# once JSON-escaped or form-encoded (quotes, newlines and most punctuation grow to two or three
# bytes). Larger bodies are refused with 413 before they are read (config/middleware.py).
REQUEST_MAX_BYTES = 3 * SCHEMA_MAX_BYTES + 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
OAUTH_IDENTITY_PROVIDERS = env_list(
    "OAUTH_IDENTITY_PROVIDERS",
    "google.com,googleapis.com,microsoftonline.com,microsoft.com,adobe.com",
)
ACTION_DOMAIN_ALLOW_IP_LITERALS = env_bool("ACTION_DOMAIN_ALLOW_IP_LITERALS", default=False)

# Chat (DESIGN.md §5): any OpenAI-compatible Chat Completions endpoint. In development without
# LLM_BASE_URL, the sandbox's deterministic demo model served by this very site answers, so the
# whole loop runs offline; in production without it the chat says that no model is configured.
LLM_BASE_URL = env_str("LLM_BASE_URL").rstrip("/") or (
    f"{SITE_URL}/sandbox/llm/v1" if DEBUG else ""
)
LLM_API_KEY = env_str("LLM_API_KEY")
LLM_MODELS = env_str("LLM_MODELS")  # "catalogue_key=provider_model,..."; empty: built-in list
LLM_TIMEOUT = env_int("LLM_TIMEOUT", 60)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # urllib3's warnings quote request paths, and a path's query can carry an API key.
    # axes logs every login at INFO; its warnings (failures, lockouts) are what matters.
    "loggers": {"urllib3": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}
