"""PeerLearn settings.

Embedded defaults (nothing configured): SQLite in WAL mode, in-memory channel layer, huey on
SQLite, local-memory cache, console e-mail. Production: DATABASE_URL (PostgreSQL) and REDIS_URL
switch the database, channel layer, huey and cache. Every value comes from the environment
through backend.env, so a bad value stops start-up with a clear message.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.functional import lazy

from backend.env import (
    ImproperEnvironment,
    env_bool,
    env_int,
    env_int_list,
    env_list,
    env_path,
    env_str,
    env_url,
    secret_from_env_or_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("PEERLEARN_DATA_DIR", BASE_DIR / "var")

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
EMBEDDED = DATABASE_URL is None

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = secret_from_env_or_file("SECRET_KEY", DATA_DIR / "secret_key", generate=DEBUG or EMBEDDED)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally, never from a CDN
    "channels",
    "huey.contrib.djhuey",
    "pwa",  # django-pwa: the settings-driven web app manifest (see PWA_* below)
    "backend.core",
    "backend.accounts",
    "backend.marketplace",
    "backend.dashboards",
    "backend.rooms",
    "backend.payments",
    "backend.notifications",
    "sync",
    "push",
    "backend.recommendations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backend.core.logging.RequestLogMiddleware",  # after whitenoise: static files are not logged
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.core.access.PageAccessMiddleware",
    # Axes last, as its documentation asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # pwa/ is a plain folder, not a package (django-pwa owns the import name `pwa`).
        "DIRS": [BASE_DIR / "pwa" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.core.context_processors.ui",
                "backend.notifications.context_processors.bell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    # Under daphne each request runs its sync code in a thread of its own, so persistent
    # per-thread connections (CONN_MAX_AGE) would pile up; a psycopg pool hands connections out
    # per request instead and saves the connect (several milliseconds) every request paid.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
    # conn_health_checks also makes Django's pool check a connection at checkout (psycopg_pool's
    # check_connection): one whose server process died is replaced, not handed to a request.
    if env_bool("DB_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2, minimum=0),
            "max_size": env_int("DB_POOL_MAX", 20, minimum=1),
            "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_path("SQLITE_PATH", DATA_DIR / "peerlearn.sqlite3"),
            "OPTIONS": {
                # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at BEGIN
                # so two writers queue on the timeout instead of failing with "database is locked"
                # when one upgrades a read transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis-backed services ------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "backend.core.cache.TolerantRedisCache",  # a Redis outage costs speed, not requests
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "peerlearn"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py refuses (rather than waits) past max_connections; every socket's
                # group_add/discard and send borrows one, so a connect burst needs many. Its
                # default read timeout (5 s) equals channels_redis's blocking pop (5 s): the
                # two race, and a lost race killed the socket's consumer, hence 15 s.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 1000, minimum=10),
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                    }
                ],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "peerlearn"),
                # One inbound queue per daphne process (channels_redis multiplexes its sockets'
                # channels over it), so this bounds the whole process's backlog: room signalling
                # bursts need headroom, and a full queue drops.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 5000, minimum=100),
                "expiry": 60,
            },
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env_str("HUEY_NAME", "peerlearn"),
        "url": REDIS_URL,
        "immediate": env_bool("HUEY_IMMEDIATE", False),
        "consumer": {"workers": env_int("HUEY_WORKERS", 2, minimum=1), "worker_type": "thread"},
    }
else:
    # Locmem keeps 300 entries by default: fewer than the learners whose ranked recommendations
    # are cached on a busy day, so they would evict one another.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "peerlearn",
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "backend.core.layers.InMemoryChannelLayer"}}
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "peerlearn",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("HUEY_IMMEDIATE", False),
        "consumer": {"workers": env_int("HUEY_WORKERS", 2, minimum=1), "worker_type": "thread"},
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "backend.accounts.passwords.CharacterClassValidator"},
]
LOGIN_URL = "/login/"
LOGOUT_REDIRECT_URL = "/"
PASSWORD_RESET_TIMEOUT = 60 * 60

# Lockout: 5 failed logins for one e-mail from one address lock that pair for 15 minutes.
# Locking by e-mail alone would let anyone lock a user out; by address alone, a whole office.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.lockout_response"
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "backend.core.net.client_ip"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "PeerLearn"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Fail closed: a view without a declared access rule answers 403.
    "DEFAULT_PERMISSION_CLASSES": ["backend.core.access.ApiAccess"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("THROTTLE_AUTH", "20/min"),
        "email_code": env_str("THROTTLE_EMAIL_CODE", "10/hour"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 14, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PeerLearn API",
    "DESCRIPTION": "One-to-one live video mentoring.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -------------------------------------------------------------------------------
HTTPS = env_bool("PEERLEARN_HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- I18n / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-in"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_USER_TIMEZONE = "Asia/Kolkata"

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "pwa" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Development and tests serve straight from the source folders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or env_bool("STATIC_FROM_SOURCE", default=False)
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_URL = "/media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MAX_PHOTO_BYTES = env_int("MAX_PHOTO_BYTES", 5 * 1024 * 1024, minimum=1024)
MAX_VIDEO_BYTES = env_int("MAX_VIDEO_BYTES", 100 * 1024 * 1024, minimum=1024)

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PeerLearn <no-reply@peerlearn.local>")

# --- Product settings -----------------------------------------------------------------------
EMAIL_CODE_TTL_MINUTES = env_int("EMAIL_CODE_TTL_MINUTES", 10, minimum=1)
EMAIL_CODE_MAX_ATTEMPTS = env_int("EMAIL_CODE_MAX_ATTEMPTS", 5, minimum=1)
EMAIL_CODE_RESEND_SECONDS = env_int("EMAIL_CODE_RESEND_SECONDS", 30, minimum=0)

# LOG_FORMAT=json writes one JSON object per line (backend/core/logging.py) for a log shipper;
# "plain" is for people. Default: json for production-shaped runs (DATABASE_URL set, DEBUG off),
# plain on the embedded default and under DEBUG.
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG or EMBEDDED else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperEnvironment(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "backend.core.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
BOOKING_HOLD_MINUTES = env_int("BOOKING_HOLD_MINUTES", 15, minimum=1)
FULL_REFUND_HOURS_BEFORE = env_int("FULL_REFUND_HOURS_BEFORE", 1, minimum=0)
MAX_SESSION_PRICE_PAISE = env_int("MAX_SESSION_PRICE_PAISE", 10_000_000, minimum=100)  # ₹1,00,000
WAITLIST_OFFER_MINUTES = env_int("WAITLIST_OFFER_MINUTES", 30, minimum=1)
REQUEST_TTL_HOURS = env_int("REQUEST_TTL_HOURS", 48, minimum=1)
REQUEST_PAYMENT_HOLD_HOURS = env_int("REQUEST_PAYMENT_HOLD_HOURS", 24, minimum=1)
# Offline sync: the longest batch a client may push, how long the change log is kept (an older
# cursor gets a full snapshot), and how many changes a pull replays before sending a snapshot.
SYNC_MAX_BATCH = env_int("SYNC_MAX_BATCH", 100, minimum=1)
SYNC_COMMIT_EVERY = env_int("SYNC_COMMIT_EVERY", 25, minimum=1)  # mutations per transaction in a push
SYNC_CHANGE_RETENTION_DAYS = env_int("SYNC_CHANGE_RETENTION_DAYS", 30, minimum=2)
SYNC_PULL_MAX_CHANGES = env_int("SYNC_PULL_MAX_CHANGES", 2000, minimum=10)

# --- Live room ------------------------------------------------------------------------------
ROOM_OPENS_MINUTES_BEFORE = env_int("ROOM_OPENS_MINUTES_BEFORE", 10, minimum=0)
ROOM_CLOSES_MINUTES_AFTER = env_int("ROOM_CLOSES_MINUTES_AFTER", 15, minimum=0)
# A mentor not in the room this long after the start is a no-show: cancelled and refunded.
NO_SHOW_AFTER_MINUTES = env_int("NO_SHOW_AFTER_MINUTES", 10, minimum=1)
# Reminders before each session with confirmed seats, minutes before the start (PRODUCT.md).
REMINDER_OFFSETS_MINUTES = env_int_list("REMINDER_OFFSETS_MINUTES", [30, 10], minimum=1, maximum=24 * 60)
# STUN servers, comma-separated ("stun:stun.example.org:3478"). Empty on the embedded default:
# peers on one machine or one LAN connect over host candidates.
ROOM_STUN_URLS = env_list("ROOM_STUN_URLS")
# TURN with time-limited credentials (coturn's use-auth-secret / "TURN REST API"): the server
# hands each member a username "<expiry>:<user id>" and HMAC-SHA1(secret, username) as password.
ROOM_TURN_URLS = env_list("ROOM_TURN_URLS")  # "turn:turn.example.org:3478?transport=udp", "turns:…"
ROOM_TURN_SECRET = env_str("ROOM_TURN_SECRET", "")
ROOM_TURN_TTL_SECONDS = env_int("ROOM_TURN_TTL_SECONDS", 4 * 3600, minimum=300)

# --- Installable app and service worker -----------------------------------------------------
# django-pwa renders the manifest from these settings (backend/core/pwa.py serves it at
# /manifest.webmanifest, and pwa/sw.js at /sw.js). Icon and screenshot URLs resolve lazily
# through static(), so production names the fingerprinted files.


def _static(path: str) -> str:
    from django.templatetags.static import static

    return static(path)


_static_url = lazy(_static, str)

PWA_SERVICE_WORKER_PATH = BASE_DIR / "pwa" / "sw.js"
PWA_APP_NAME = "PeerLearn"
PWA_APP_DESCRIPTION = "Book live one-to-one video sessions with mentors, and keep your bookings with you offline."
PWA_APP_START_URL = "/dashboard/"
PWA_APP_SCOPE = "/"
PWA_APP_DISPLAY = "standalone"
PWA_APP_ORIENTATION = "any"
PWA_APP_THEME_COLOR = "#FF5734"  # --brand in app.css
PWA_APP_BACKGROUND_COLOR = "#F7F7F5"  # --bg (light) in app.css
PWA_APP_STATUS_BAR_COLOR = "default"
PWA_APP_DIR = "ltr"
PWA_APP_LANG = "en-IN"
PWA_APP_DEBUG_MODE = False
PWA_APP_ICONS = [
    {"src": _static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": _static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {
        "src": _static_url("icons/icon-maskable-512.png"),
        "sizes": "512x512",
        "type": "image/png",
        "purpose": "maskable",
    },
]
PWA_APP_ICONS_APPLE = [{"src": _static_url("icons/apple-touch-icon-180.png"), "sizes": "180x180"}]
PWA_APP_SPLASH_SCREEN: list = []
PWA_APP_SCREENSHOTS = [
    {
        "src": _static_url("img/screenshot-narrow.png"),
        "sizes": "390x844",
        "type": "image/png",
        "form_factor": "narrow",
        "label": "Your upcoming sessions and bookings on a phone",
    },
    {
        "src": _static_url("img/screenshot-wide.png"),
        "sizes": "1440x900",
        "type": "image/png",
        "form_factor": "wide",
        "label": "The learner dashboard on a desktop",
    },
]
PWA_APP_SHORTCUTS = [
    {
        "name": "Learner dashboard",
        "short_name": "Learning",
        "description": "Your bookings, requests and progress",
        "url": "/dashboard/learner/",
        "icons": [{"src": _static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"}],
    },
    {
        "name": "Mentor dashboard",
        "short_name": "Teaching",
        "description": "Your sessions, requests and earnings",
        "url": "/dashboard/mentor/",
        "icons": [{"src": _static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"}],
    },
]
# Tests bump this to make /sw.js a different script (an "update") without touching files.
PWA_SW_VERSION_SALT = env_str("PWA_SW_VERSION_SALT", "")

# --- Payments (Razorpay) ---
# backend/payments/gateway.py is the one module that talks to Razorpay. Live: set
# RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET (from the dashboard) and the
# base URL defaults to the real API. Without a key id the app runs in test-payment mode: the base
# URL defaults to the local Razorpay stand-in (python -m backend.payments.standin, a test server,
# never real money) and per-install test keys are generated into the data directory, where the
# stand-in reads them too. PAYMENTS_TEST_MODE is what pages show as "test payments".
from backend.env import env_required  # noqa: E402

RAZORPAY_REAL_BASE_URL = "https://api.razorpay.com"
RAZORPAY_STANDIN_BASE_URL = "http://127.0.0.1:8765"
RAZORPAY_BASE_URL = (
    env_url("RAZORPAY_BASE_URL", schemes=("https", "http"))
    or (RAZORPAY_REAL_BASE_URL if env_str("RAZORPAY_KEY_ID") else RAZORPAY_STANDIN_BASE_URL)
).rstrip("/")
PAYMENTS_TEST_MODE = RAZORPAY_BASE_URL != RAZORPAY_REAL_BASE_URL
if PAYMENTS_TEST_MODE:
    RAZORPAY_KEY_ID = secret_from_env_or_file("RAZORPAY_KEY_ID", DATA_DIR / "razorpay_test_key_id", generate=True)
    RAZORPAY_KEY_SECRET = secret_from_env_or_file(
        "RAZORPAY_KEY_SECRET", DATA_DIR / "razorpay_test_key_secret", generate=True
    )
    RAZORPAY_WEBHOOK_SECRET = secret_from_env_or_file(
        "RAZORPAY_WEBHOOK_SECRET", DATA_DIR / "razorpay_test_webhook_secret", generate=True
    )
else:  # real money: secrets only from the environment, never generated
    RAZORPAY_KEY_ID = env_required("RAZORPAY_KEY_ID")
    RAZORPAY_KEY_SECRET = env_required("RAZORPAY_KEY_SECRET")
    RAZORPAY_WEBHOOK_SECRET = env_required("RAZORPAY_WEBHOOK_SECRET")
RAZORPAY_TIMEOUT_SECONDS = env_int("RAZORPAY_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
PLATFORM_FEE_PERCENT = env_int("PLATFORM_FEE_PERCENT", 10, minimum=0, maximum=50)
# A mentor's share becomes withdrawable this long after the session completed (disputes first).
EARNINGS_DISPUTE_HOURS = env_int("EARNINGS_DISPUTE_HOURS", 72, minimum=0)
# Orders and refunds the gateway has been quiet about this long are asked after by a job.
PAYMENTS_RECONCILE_AFTER_MINUTES = env_int("PAYMENTS_RECONCILE_AFTER_MINUTES", 20, minimum=1)

# --- Web Push ---
# VAPID keys (push/vapid.py): set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (base64url; make a pair with
# `python manage.py generate_vapid_keys`) and VAPID_SUBJECT (mailto: or https:). Without them a
# pair is generated once into the data directory, like the test-payment keys, and
# `check --deploy` warns (push.W001): every browser subscription is bound to the public key, so a
# pair lost with a data directory silently breaks every device.
from push.vapid import keys_from_env_or_file, subject_from_env  # noqa: E402

VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_KEYS_GENERATED = keys_from_env_or_file(
    DATA_DIR / "vapid_private_key", generate=True
)
VAPID_SUBJECT_DEFAULT = "mailto:push@peerlearn.local"
VAPID_SUBJECT = subject_from_env(VAPID_SUBJECT_DEFAULT)
PUSH_TIMEOUT_SECONDS = env_int("PUSH_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
# Subscription endpoints on private, loopback or link-local addresses are refused (the server
# would POST wherever a user points it); tests and the benchmark talk to a push stand-in on 127.0.0.1.
PUSH_ALLOW_PRIVATE_ENDPOINTS = env_bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", default=False)
# The app re-posts its subscription at every start; one unseen this long belongs to a device gone.
PUSH_SUBSCRIPTION_MAX_IDLE_DAYS = env_int("PUSH_SUBSCRIPTION_MAX_IDLE_DAYS", 60, minimum=1)

# --- Recommendations ---
# implicit ALS over learners × mentors (backend/recommendations). Artefacts are versioned files in
# RECOMMENDATIONS_DIR; serving processes pick up the newest within a few seconds, no restart.
RECOMMENDATIONS_DIR = env_path("RECOMMENDATIONS_DIR", DATA_DIR / "recommendations")
RECOMMENDATIONS_FACTORS = env_int("RECOMMENDATIONS_FACTORS", 64, minimum=4, maximum=512)
RECOMMENDATIONS_ITERATIONS = env_int("RECOMMENDATIONS_ITERATIONS", 15, minimum=1, maximum=100)
RECOMMENDATIONS_REGULARIZATION = 0.05
RECOMMENDATIONS_ALPHA = 2.0  # confidence per unit of log1p(summed interaction weight)
RECOMMENDATIONS_POPULARITY_HALF_LIFE_DAYS = 21.0
# implicit's own threads for training (0 = every core); BLAS stays at one thread while it fits.
RECOMMENDATIONS_TRAIN_THREADS = env_int("RECOMMENDATIONS_TRAIN_THREADS", 0, minimum=0)
# A learner's ranked list is cached this long (dropped at once by their new interactions).
RECOMMENDATIONS_CACHE_SECONDS = env_int("RECOMMENDATIONS_CACHE_SECONDS", 600, minimum=0)
# The bookable-session catalogue each process ranks from is re-read this often; what is shown is
# always re-checked against the database (seats, bookings, blocked mentors) at request time.
RECOMMENDATIONS_CATALOGUE_SECONDS = env_int("RECOMMENDATIONS_CATALOGUE_SECONDS", 30, minimum=0)
# How often a serving process looks for a newer artefact on disk.
RECOMMENDATIONS_RELOAD_SECONDS = env_int("RECOMMENDATIONS_RELOAD_SECONDS", 5, minimum=0)
