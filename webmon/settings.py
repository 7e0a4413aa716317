"""Settings of webmon, driven by the environment (see webmon/env.py).

Environment variables (unset or empty means the default):

    DEBUG                 true/false/1/0/yes/no. Default true: the development
                          default, so a fresh clone runs with no setup.
                          Production sets DEBUG=false.
    SECRET_KEY            Required when DEBUG is off. With DEBUG on and unset,
                          a development key is generated once in
                          var/secret_key (mode 0600).
    ALLOWED_HOSTS         Comma-separated. Default 127.0.0.1,localhost.
    CSRF_TRUSTED_ORIGINS  Comma-separated origins, e.g. https://mon.example.com.
    DATABASE_URL          webmon's own DB (the `default` alias). Default
                          sqlite:///var/webmon.db, relative to the repository
                          root; see webmon/dburl.py for the accepted forms.
    STATIC_ROOT           Where collectstatic puts files. Default var/static.
    LUIGI_CONFIG_PATH     Read by Luigi, not here: the luigi.cfg whose
                          [task_history] db_connection is the `history` alias
                          (Luigi's task history, read-only; webmon/luigicfg.py)
                          and whose [store] db_connection is the `items` alias
                          (the items DB, read-only; default sqlite:///var/items.db).
    LUIGID_URL            luigid's address, http(s)://host:port. Default from
                          luigi.cfg: [core] scheduler_url, else
                          http://scheduler_host:scheduler_port (127.0.0.1:8082),
                          with the stack `./scheduler.sh up` runs applied
                          (LUIGID_PORT, var/run/stack.env: pipelines/stack.py).
    WEBMON_BASE_URL       The address operators open webmon at: links in
                          notices. Default luigi.cfg [runs] webmon_url with the
                          same stack applied (WEBMON_PORT, var/run/stack.env),
                          which is also where luigid's run links point.
    WEBMON_SECURE_COOKIES true when webmon is served over HTTPS: session and
                          CSRF cookies are then sent over HTTPS only. Default:
                          false with DEBUG on, true with DEBUG off.

  Production profile (DEBUG=false; docs/operations.md has the full table):
    SECURE_SSL_REDIRECT   Redirect http:// to https:// (not /healthz, /metrics).
                          Default true with DEBUG off, false with DEBUG on.
    SECURE_HSTS_SECONDS   Strict-Transport-Security max-age. Default 31536000
                          with DEBUG off, 0 (no header) with DEBUG on.
    SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD
                          Default true with DEBUG off, false with DEBUG on.
    BEHIND_TLS_PROXY      true: a reverse proxy terminates TLS and sets
                          X-Forwarded-Proto (and X-Forwarded-For, used by the
                          login limiter). Default false.
    ADMINS                "Name <a@b.org>, c@d.org": server errors (500s) are
                          mailed here, without the HTML page of locals. Default none.
    SERVER_EMAIL          From address of those mails. Default DEFAULT_FROM_EMAIL.
    SENTRY_DSN            Errors are sent to Sentry (sentry-sdk, no personal
                          data) only when set. SENTRY_ENVIRONMENT: default production.
    WEBMON_CACHE          locmem or database (the table of `manage.py
                          createcachetable`; shared by all gunicorn workers).
                          Default locmem with DEBUG on, database with DEBUG off.
    WEBMON_LOGIN_FAILURES, WEBMON_LOGIN_FAILURES_PER_IP, WEBMON_LOGIN_WINDOW_S
                          Failed logins per user name (5) and per client
                          address (20) within the window (900 s) before 429.
    WEBMON_PAGE_SIZE      Runs per page of the runs list. Default 50.
    WEBMON_SCAN_WINDOW    How many runs one page of the runs list looks through
                          for filters no index serves (status, host, parameter
                          search). Default 20000.
    WEBMON_ITEMS_SCAN_WINDOW
                          How many items one page of the items browser's search
                          (or of a filter no index orders) looks through. Default 20000.
    WEBMON_TICK_FILE_ITEMS
                          The most items a tick's parse/items.jsonl and its previous
                          tick's may hold for the tick page to compare them (exact
                          changes of an older tick). Default 200000; 0: never.
    WEBMON_STALE_AFTER_S  A running run whose last heartbeat is older than this
                          is shown as stale, with a warning that its worker
                          may have died. Default from luigi.cfg [runs]: 2 x
                          heartbeat_seconds, at most dead_after_seconds (20).
    WEBMON_LOG_LEVEL      Level of the JSON request log (stderr). Default INFO.
    METRICS_TOKEN         `Authorization: Bearer <token>` opens /metrics. Default
                          empty: no token works (see webmon/metrics/access.py).
    METRICS_ALLOW         Comma-separated IPs/CIDRs that may read /metrics
                          without the token. Default 127.0.0.1,::1; `none`.
    WEBMON_NOTICE_LANGUAGE
                          Language of schedule notices whose channel names none:
                          en, zh-hant or zh-hans. Default en.

  Languages and time zones (docs/webmon.md): pages are in English, Traditional or
  Simplified Chinese, from the user's setting (the Settings page), else the
  language cookie, else the browser's Accept-Language; times are shown in the
  user's time zone (default UTC).
"""

from __future__ import annotations

from pathlib import Path

# Importing pipelines applies the addresses of the running stack to luigi's configuration
# (pipelines/stack.py): LUIGID_URL's and WEBMON_BASE_URL's defaults below read it.
from pipelines import stack
from webmon.dburl import db_from_url, install_pymysql_if_needed, make_sqlite_folder, read_only
from webmon.env import env_bool, env_choice, env_http_url, env_int, env_list, env_str
from webmon.luigicfg import (
    HISTORY_SETTING,
    ITEMS_SETTING,
    history_db_url,
    items_db_url,
    luigid_url,
    stale_after_seconds,
)
from webmon.metrics.access import allow_list
from webmon.monitor.production import init_sentry, parse_admins
from webmon.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent  # the repository root
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = secret_key(env_str("SECRET_KEY", ""), debug=DEBUG, dev_key_file=VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "webmon.monitor",
    "webmon.history",
    "webmon.scheduling",
    "webmon.metrics",
    "webmon.items",
]

MIDDLEWARE = [
    "webmon.monitor.middleware.RequestLogMiddleware",  # first: its time covers the rest
    "django.middleware.security.SecurityMiddleware",
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),  # static files under gunicorn
    "webmon.monitor.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # after sessions, before common: cookie, then Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webmon.monitor.preferences.PreferencesMiddleware",  # the user's language and time zone win
    "django.contrib.auth.middleware.LoginRequiredMiddleware",  # every page needs a login unless marked
    "webmon.monitor.ratelimit.LoginRateLimitMiddleware",  # 429 after too many failed logins
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webmon.urls"
WSGI_APPLICATION = "webmon.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,  # templates live in each app, namespaced: monitor/templates/monitor/
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webmon.monitor.preferences.time_zone_context",
            ],
        },
    },
]

DATABASES = {
    "default": db_from_url(env_str("DATABASE_URL", "sqlite:///var/webmon.db"), BASE_DIR, label="DATABASE_URL"),
    # Luigi's task history: luigi.cfg is the one source of truth for its URL.
    "history": read_only(db_from_url(history_db_url(), BASE_DIR, label=HISTORY_SETTING), label=HISTORY_SETTING),
    # The items DB StoreItems writes (crawl_items, crawl_markers): read-only too, never migrated.
    "items": read_only(db_from_url(items_db_url(), BASE_DIR, label=ITEMS_SETTING), label=ITEMS_SETTING),
}
make_sqlite_folder(DATABASES["default"])
install_pymysql_if_needed(DATABASES)
DATABASE_ROUTERS = ["webmon.routers.ItemsRouter", "webmon.routers.HistoryRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the pages, the admin texts of our models and the notices (docs/webmon.md,
# "Languages and time zones"); catalogues in locale/<name>/LC_MESSAGES/django.po.
LANGUAGES = [("en", "English"), ("zh-hant", "繁體中文"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # stored times and the default zone shown; each user may choose another
# Notices go out in their channel's language, else this one (a channel is read by a team, not by one user).
WEBMON_NOTICE_LANGUAGE = env_choice("WEBMON_NOTICE_LANGUAGE", "en", tuple(code for code, _ in LANGUAGES))

STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(VAR_DIR / "static"))
# Where the trigger daemon writes each run's CLI output (<schedule>/<run>-<attempt>.log), and the only folder
# besides var/ the output page serves from. Run ids are per webmon DB: a second DB (a test's) needs its own.
RUN_OUTPUT_DIR = Path(env_str("RUN_OUTPUT_DIR", str(VAR_DIR / "log" / "runs")))
# -- login and security headers ------------------------------------------------
LOGIN_URL = "monitor:login"
LOGIN_REDIRECT_URL = "monitor:overview"
LOGOUT_REDIRECT_URL = "monitor:login"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = env_bool("WEBMON_SECURE_COOKIES", not DEBUG)
# HTTPS: on by default in production (DEBUG off), each switch can be turned off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and Prometheus call the app directly
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# -- login rate limiting (webmon/monitor/ratelimit.py) and the cache it counts in ----------
WEBMON_LOGIN_FAILURES = env_int("WEBMON_LOGIN_FAILURES", 5, minimum=1)
WEBMON_LOGIN_FAILURES_PER_IP = env_int("WEBMON_LOGIN_FAILURES_PER_IP", 20, minimum=1)
WEBMON_LOGIN_WINDOW_S = env_int("WEBMON_LOGIN_WINDOW_S", 900, minimum=1)
# LocMemCache is per process: gunicorn's workers share the database cache instead.
_CACHE = env_choice("WEBMON_CACHE", "locmem" if DEBUG else "database", ("locmem", "database"))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if _CACHE == "locmem"
    else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "webmon_cache"}
}
CSRF_COOKIE_HTTPONLY = True
# Scripts and styles from our static files only: no inline script, no inline style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# -- what the monitor reads ------------------------------------------------------
LUIGID_URL = env_http_url("LUIGID_URL", luigid_url())
# Links in notices point here (the address operators open webmon at); luigid's run links too.
WEBMON_BASE_URL = env_http_url("WEBMON_BASE_URL", stack.webmon_url())

# The trigger daemon on each worker host (docs/operations.md, "Several worker hosts"): how many runs
# it runs at once (0: no limit), and how long a host's daemons must be silent before another
# host's daemon takes over its runs.
TRIGGER_SLOTS = env_int("TRIGGER_SLOTS", 0, minimum=0)
TRIGGER_HOST_LOST_S = env_int("TRIGGER_HOST_LOST_S", 120, minimum=10)

# Email for schedule notices (and, in production, error reports). Without
# EMAIL_HOST, mail is printed to the console of the process that sends it.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crawlops@localhost")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)  # From: of error mails
ADMINS = parse_admins(env_str("ADMINS", ""))  # who gets server errors (500s) by mail
EMAIL_SUBJECT_PREFIX = "[crawlops webmon] "
LUIGID_TIMEOUT = 1.0  # seconds; luigid answers on one thread, a page must not wait on it
WEBMON_PAGE_SIZE = env_int("WEBMON_PAGE_SIZE", 50, minimum=1)
WEBMON_SCAN_WINDOW = env_int("WEBMON_SCAN_WINDOW", 20000, minimum=100)
# The items browser (webmon/items/): items one page of a search looks through, and the most items a tick's
# items.jsonl (and its previous tick's) may hold for the tick page to compare them.
WEBMON_ITEMS_SCAN_WINDOW = env_int("WEBMON_ITEMS_SCAN_WINDOW", 20000, minimum=100)
WEBMON_TICK_FILE_ITEMS = env_int("WEBMON_TICK_FILE_ITEMS", 200000, minimum=0)
WEBMON_STALE_AFTER_S = env_int("WEBMON_STALE_AFTER_S", stale_after_seconds(), minimum=1)

# -- /metrics: a bearer token, or a client address on the allow-list ----------------
METRICS_TOKEN = env_str("METRICS_TOKEN", "")  # env_str: never echoed in an error
METRICS_ALLOW = allow_list(env_list("METRICS_ALLOW", ["127.0.0.1", "::1"]))

# -- logging: one JSON line per request on stderr ----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "webmon.monitor.jsonlog.JsonFormatter"}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "json_stderr": {"class": "logging.StreamHandler", "formatter": "json"},
        # Server errors to ADMINS, as text: the HTML page of locals could carry secrets.
        "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                        "filters": ["require_debug_false"], "include_html": False},
    },
    "loggers": {
        # 500s: one JSON line on stderr and a mail to ADMINS (not propagated: Django's
        # default `django` logger would mail them a second time).
        "django.request": {"handlers": ["json_stderr", "mail_admins"], "level": "ERROR", "propagate": False},
        "webmon.requests": {
            "handlers": ["json_stderr"],
            "level": env_choice("WEBMON_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            "propagate": False,
        },
    },
}

# -- Sentry: only with SENTRY_DSN; without it sentry-sdk is not even imported --------------
SENTRY_ENABLED = init_sentry(env_str("SENTRY_DSN", ""), environment=env_str("SENTRY_ENVIRONMENT", "production"))
