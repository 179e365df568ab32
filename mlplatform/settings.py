"""The one settings module: everything that differs between machines comes
from environment variables, with defaults that are safe for a local install.
Every variable read here is described in docs/configuration.md (a test keeps
the two in step).
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Lets the classes that django-stubs makes generic (admin.ModelAdmin[Model],
# ...) be subscripted at run time, as the type check has them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is below its minimum, {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else (BASE_DIR / path)


def env_secret(name: str, default: str) -> str:
    """A secret from NAME, or from the file that NAME_FILE names (as container
    platforms mount secrets), without the file's trailing newline. Both at once
    is a mistake, refused rather than guessed at; so is a file that cannot be
    read or is empty. Messages never show the secret."""
    value = os.environ.get(name, "")
    file_name = os.environ.get(f"{name}_FILE", "")
    if not file_name:
        return value or default
    if value:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one of them")
    try:
        secret = Path(file_name).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = (
            error.strerror or type(error).__name__
            if isinstance(error, OSError)
            else "it is not UTF-8 text"
        )
        raise ImproperlyConfigured(f"{name}_FILE={file_name}: cannot read it ({reason})") from None
    if not secret:
        raise ImproperlyConfigured(f"{name}_FILE={file_name}: the file is empty")
    return secret


# "local" (the default) is a single machine served over http on localhost;
# "production" demands a real secret key and turns on every https protection.
DJANGO_ENV = env_str("DJANGO_ENV", "local")
if DJANGO_ENV not in {"local", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r}: use 'local' or 'production'")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", False)
LOCAL_SECRET_KEY = "local-only-insecure-key-set-SECRET_KEY-in-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 50
SECRET_KEY = env_secret("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DJANGO_ENV=production"
        )
    SECRET_KEY = LOCAL_SECRET_KEY
if PRODUCTION and (SECRET_KEY == LOCAL_SECRET_KEY or len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH):
    # Sessions, CSRF tokens and password resets are signed with it: the key
    # published here, or one short enough to guess, signs for anyone.
    raise ImproperlyConfigured(
        "SECRET_KEY is the local key published with the project"
        if SECRET_KEY == LOCAL_SECRET_KEY
        else f"SECRET_KEY has {len(SECRET_KEY)} characters; production needs at least "
        f"{MIN_SECRET_KEY_LENGTH}"
    )
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")
DATA_ROOT = env_path("DATA_ROOT", BASE_DIR / "data")
ARTIFACT_ROOT = env_path("ARTIFACT_ROOT", VAR_DIR / "artifacts")
DATASET_CACHE_ROOT = env_path("DATASET_CACHE_ROOT", VAR_DIR / "cache" / "datasets")
REDIS_URL = env_secret("REDIS_URL", "redis://127.0.0.1:6379/0")


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImproperlyConfigured(f"the package {name} is not installed")
    return Path(spec.origin).parent


# django-ninja's Swagger UI page and its assets (served from here, never from a
# CDN) are in the template and static folders below, not through an installed
# app: as one, django-ninja (and pydantic) would be imported by every command
# and worker at start-up, ~0.1 s of each.
NINJA_DIR = _package_dir("ninja")

INSTALLED_APPS = [
    # The admin's modules are imported by mlplatform/urls.py (admin.autodiscover),
    # that is with the URLs (the web processes, the URL checks), not by every
    # command at start-up.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_rq",
    "django_htmx",
    "datasets",
    "experiments",
    "registry",
    "notes",
    "serving",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A view that lost the database answers 503, not 500 (its process_exception).
    "mlplatform.outage_responses.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Inside the security middlewares, so that an API error it reshapes (an
    # unknown URL, a refused method) still gets their headers on the way out;
    # every response a view or the handler makes passes through it.
    "api.middleware.ApiResponseMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlplatform.urls"
WSGI_APPLICATION = "mlplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
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


DATABASE_CONNECT_TIMEOUT_SECONDS = env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 5, minimum=1)


def database_config(url: str | None) -> dj_database_url.DBConfig:
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'mlplatform.sqlite3'}"
    # Commands and workers open a connection per use (0); gunicorn.conf.py
    # lets each web thread keep its connection: a new PostgreSQL connection
    # costs more than a whole small API request.
    config = dj_database_url.parse(
        url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0), conn_health_checks=True
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while a worker writes; the busy timeout
        # makes a writer wait for the lock instead of failing at once, and
        # IMMEDIATE transactions take the write lock up front so that two
        # writers queue instead of deadlocking on a lock upgrade.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
        }
        # A file, not memory, so that worker processes started by tests share
        # it; one per test process, so that concurrent test runs never collide.
        config["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    elif config["ENGINE"].startswith("django.db.backends.postgresql"):
        # An unreachable server (packets dropped, not refused) fails a connect
        # in seconds rather than minutes: a worker's reconciliation must not
        # hold up its Redis heartbeat while the database is away.
        options = dict(config.get("OPTIONS", {}))
        options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_SECONDS)
        config["OPTIONS"] = options
    return config


DATABASES = {"default": database_config(env_secret("DATABASE_URL", ""))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# ISO-like dates everywhere Django formats one itself (the admin above all).
FORMAT_MODULE_PATH = ["mlplatform.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
# WhiteNoise serves static files from the app itself, DEBUG or not, so the
# demo and production need no separate file server and nothing from a CDN.
# Model artifacts go through the "artifacts" storage: point its BACKEND at a
# shared or object store (e.g. django-storages' S3 backend) to let workers on
# several hosts share them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(ARTIFACT_ROOT)},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins for
# one user name from one address, that pair is locked out for
# LOGIN_LOCKOUT_MINUTES (0: until an administrator unlocks it with
# `manage.py axes_reset_username NAME`). Other users, and the same user from
# elsewhere, are not affected. The address is REMOTE_ADDR: the client's
# behind no proxy, the proxy's behind one (then the lock is per user name).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES) if _LOCKOUT_MINUTES > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mlplatform.views.login_locked_out"

# Production hardening: on in production, each overridable.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
# Trust X-Forwarded-Proto only when told that a proxy in front strips the
# client's own header and sets it: otherwise any client could claim https.
SECURE_PROXY_SSL_HEADER_TRUSTED = env_bool("SECURE_PROXY_SSL_HEADER_TRUSTED", False)
if SECURE_PROXY_SSL_HEADER_TRUSTED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Uploads larger than this are refused by the dataset upload form.
DATASET_UPLOAD_MAX_BYTES = env_int("DATASET_UPLOAD_MAX_BYTES", 200 * 1024 * 1024)
# The largest request body other than a file upload (Django answers 413 past
# it): a JSON predict request of SERVING_MAX_RECORDS rows must fit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BODY_BYTES", 16 * 1024 * 1024)

# Serving: the most rows one predict request may carry, and how many loaded
# model versions each web process keeps in memory.
SERVING_MAX_RECORDS = env_int("SERVING_MAX_RECORDS", 10_000)
SERVING_CACHED_MODELS = env_int("SERVING_CACHED_MODELS", 4)
# Threads a loaded model predicts on in a web worker (BLAS, OpenMP, a forest's
# jobs): one, as a web worker serves several requests on its own threads.
SERVING_THREADS = env_int("SERVING_THREADS", 1, minimum=1)
# The largest model artifact a web process loads (0: no limit); a larger one
# is answered 503 naming this setting, not loaded into every web worker.
SERVING_MAX_MODEL_MB = env_int("SERVING_MAX_MODEL_MB", 1024, minimum=0)

# The gate policy every new registered model starts with, and the bounds no
# policy may leave (settings may raise the lower bounds, never lower them).
GATE_DEFAULT_POLICY_FILE = env_path(
    "GATE_DEFAULT_POLICY_FILE", BASE_DIR / "configs" / "gate_policy.yaml"
)
GATE_POLICY_MIN_RESAMPLES = env_int("GATE_POLICY_MIN_RESAMPLES", 200)
GATE_POLICY_MIN_CONFIDENCE = env_float("GATE_POLICY_MIN_CONFIDENCE", 0.80)
GATE_POLICY_MIN_POSITIVES = env_int("GATE_POLICY_MIN_POSITIVES", 20)
# The loosest comparison with production a policy's primary metric may allow
# (settings may only lower them): a policy that lets anything through is refused.
GATE_POLICY_MAX_DROP = env_float("GATE_POLICY_MAX_DROP", 0.10)
GATE_POLICY_MAX_RELATIVE_DROP = env_float("GATE_POLICY_MAX_RELATIVE_DROP", 0.50)

# How long a worker may take to gate a production request or an experiment's
# registration (loading the production model and the data, bootstrapping).
GATE_JOB_TIMEOUT = env_int("GATE_JOB_TIMEOUT", 1800)

# Resource limits of training (see README, "Security notes"). A new config
# beyond a bound is refused with the bound and the setting that holds it; the
# defaults repeat experiments/configs/limits.py, which a test keeps equal.
TRAINING_MAX_TIMEOUT_SECONDS = env_int("TRAINING_MAX_TIMEOUT_SECONDS", 4 * 3600)
_DEFAULT_PARAM_LIMITS = {
    "logistic_regression": {"max_iter": 10_000},
    "random_forest": {"n_estimators": 5_000, "max_depth": 100, "max_leaf_nodes": 100_000},
    "hist_gradient_boosting": {"max_iter": 10_000, "max_depth": 100, "max_leaf_nodes": 4_096},
}
# Each bound from TRAINING_LIMIT_<MODEL TYPE>_<PARAMETER>,
# e.g. TRAINING_LIMIT_RANDOM_FOREST_N_ESTIMATORS.
TRAINING_PARAM_LIMITS = {
    model_type: {
        param: env_int(f"TRAINING_LIMIT_{model_type}_{param}".upper(), default)
        for param, default in bounds.items()
    }
    for model_type, bounds in _DEFAULT_PARAM_LIMITS.items()
}
# Address space (RLIMIT_AS) of each training process, in MiB; 0 for none.
TRAINING_MEMORY_LIMIT_MB = env_int("TRAINING_MEMORY_LIMIT_MB", 8192)
# BLAS/OpenMP threads (and joblib jobs) of each training run; 0: the CPUs this
# process may use, split between the training workers alive on the host
# (experiments/threads.py).
TRAINING_THREADS = env_int("TRAINING_THREADS", 0, minimum=0)

RQ_QUEUES: dict[str, dict[str, Any]] = {
    "training": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env_int("TRAINING_JOB_TIMEOUT", 3600)},
}
# No copy of django-rq's dashboard inside the admin: it would be reachable by
# any staff user, without the permission /django-rq/ asks for.
RQ_SHOW_ADMIN_LINK = False
# `manage.py rqworker training` runs this worker class: it reconciles the
# database with the queue in its maintenance and reports killed work-horses.
RQ = {"WORKER_CLASS": "experiments.worker.TrainingWorker"}
# While an experiment runs, its row's heartbeat is refreshed this often.
EXPERIMENT_HEARTBEAT_SECONDS = env_int("EXPERIMENT_HEARTBEAT_SECONDS", 10)
# A claim (a run, a registration, a gate) silent for this long is looked at:
# ended if its process is known dead (same host, pid gone; or its worker gone).
EXPERIMENT_STALE_SECONDS = env_int(
    "EXPERIMENT_STALE_SECONDS", 3 * EXPERIMENT_HEARTBEAT_SECONDS + 15
)
# A claim whose process cannot be looked up from here (another host) is ended
# only after this much silence: long enough to outlast a database outage,
# after which a live holder's heartbeat renews its claim.
EXPERIMENT_LEASE_SECONDS = env_int("EXPERIMENT_LEASE_SECONDS", 600, minimum=1)
# Bookkeeping writes of a live run (phase, result, failure) wait this long for
# a database that went away before the run gives up on it.
DATABASE_OUTAGE_WAIT_SECONDS = env_int("DATABASE_OUTAGE_WAIT_SECONDS", 300, minimum=0)
# A registration that ends in `error` is tried again by the reconciler, up to
# this many attempts in all, waiting REGISTRATION_RETRY_SECONDS after the
# first failure and three times longer after each next one (3 min, 9 min).
REGISTRATION_MAX_ATTEMPTS = env_int("REGISTRATION_MAX_ATTEMPTS", 3, minimum=1)
REGISTRATION_RETRY_SECONDS = env_int("REGISTRATION_RETRY_SECONDS", 180, minimum=1)
# How often each worker compares the database with the queue.
EXPERIMENT_RECONCILE_SECONDS = env_int("EXPERIMENT_RECONCILE_SECONDS", 15)
# A web request gives up on an unreachable Redis after this long and says so.
REDIS_CONNECT_TIMEOUT_SECONDS = env_int("REDIS_CONNECT_TIMEOUT_SECONDS", 2)
REDIS_SOCKET_TIMEOUT_SECONDS = env_int("REDIS_SOCKET_TIMEOUT_SECONDS", 5)
# How long RQ keeps a finished or failed training job (the database keeps the outcome).
TRAINING_JOB_RESULT_TTL = env_int("TRAINING_JOB_RESULT_TTL", 7 * 24 * 3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "no_403_traceback": {"()": "mlplatform.log_filters.PermissionDeniedWithoutTraceback"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Not its start-up banner in every command; lockouts are still logged.
        "axes.apps": {"level": "WARNING"},
        # A refused permission is logged in one line, without a traceback.
        "django.request": {"filters": ["no_403_traceback"]},
    },
}
