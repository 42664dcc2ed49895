"""Settings read from the environment, with safe defaults for development and tests only."""

from __future__ import annotations

import os
from datetime import timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit
from pathlib import Path

from moderation_app.services.evidence.backends import parse_s3_location
from moderation_app.services.evidence.images import DEFAULT_LIMITS, MB
from moderation_app.services.notifications.smtp import SmtpUrlError, parse_smtp_url
from moderation_app.services.webhooks.signing import WebhookSecretError, parse_secret
from moderation_app.services.webhooks.transport import WebhookUrlError, check_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Connections kept open for SQLite; more are opened when needed (see engine_options).
SQLITE_POOL_SIZE = 20


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app (e.g. no SECRET_KEY in production)."""


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'moderation.sqlite3'}"


def normalize_database_url(url: str) -> str:
    # Operators paste libpq-style URLs; the app talks to PostgreSQL through psycopg 3 only.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _list_from_env(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def engine_options(database_url: str) -> dict[str, object]:
    # hide_parameters: a query's values (session tokens, password hashes) never reach an
    # error message, so never a log line or a traceback.
    options: dict[str, object] = {"pool_pre_ping": True, "hide_parameters": True}
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        # The threaded server's requests may all wait for the write lock at once, each holding a
        # connection: the default cap (5 + 10 overflow) turned the 16th into a 500. A SQLite
        # connection costs a file open, so there is no cap.
        options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=-1)
    if database_url.startswith("postgresql"):
        options["connect_args"] = {"options": postgresql_options()}
    return options


def postgresql_options() -> str:
    """Session settings for every PostgreSQL connection (libpq `options`).

    random_page_cost 1.1, as for SSDs (PG_RANDOM_PAGE_COST overrides; empty leaves the server's):
    the default 4.0 prices a random read like a spinning disk's, so for the queue's first page
    PostgreSQL preferred the index led by submitted_at, which the heap follows in order, betting
    that submitted requests are spread evenly through time. They are the newest: it read 6,000
    pages for 25 rows (45 ms at a million requests, 0.3 ms on the tab's own index)."""
    cost = os.environ.get("PG_RANDOM_PAGE_COST", "1.1").strip()
    if not cost:
        return ""
    try:
        value = float(cost)
    except ValueError:
        raise ConfigError(f"PG_RANDOM_PAGE_COST must be a number (or empty), not {cost!r}.") from None
    return f"-c random_page_cost={value}"


def base_settings(instance_path: str) -> dict[str, object]:
    """Defaults that hold everywhere; the environment and FLASK_* variables override them."""
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL") or default_database_url(instance_path))
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR") or str(PROJECT_ROOT / "uploads"),
        # s3://bucket/prefix keeps evidence in S3-compatible storage instead of UPLOAD_DIR
        # (docs/deployment.md); boto3 reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY itself.
        "EVIDENCE_STORAGE": os.environ.get("EVIDENCE_STORAGE") or None,
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
        # Cookies: secure unless a plain-http local run says otherwise.
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "moderation_session",
        # Absolute cap on a session, counted from sign-in (see moderation_app.sessions).
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12),
        # Idle cap: staff sessions hold every seller's evidence, so they lapse sooner.
        "SESSION_IDLE_TIMEOUT_STAFF": timedelta(minutes=30),
        "SESSION_IDLE_TIMEOUT_SELLER": timedelta(hours=2),
        # Exporting the audit log asks for a password entered at most this long ago.
        "RECENT_LOGIN_WINDOW": timedelta(minutes=10),
        # There is no "remember me": these only harden the cookie if one were ever set.
        "REMEMBER_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_DURATION": timedelta(hours=12),
        # Host names the app answers to (others get 400), comma-separated in the environment:
        # TRUSTED_HOSTS=desk.example.com,.internal.example.com. Local-only until one is set.
        "TRUSTED_HOSTS": _list_from_env("TRUSTED_HOSTS") or list(LOCAL_HOSTS),
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        # Failed logins only count against these (see auth.routes).
        "LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
        "LOGIN_LIMIT_PER_ADDRESS": "100 per 15 minutes",
        # Shared state of several workers or servers (docs/deployment.md): the limits' counters.
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # memory:// counts per process: gunicorn refuses several workers on it (gunicorn.conf.py).
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        # Their keys in Redis start with this: two desks (staging, production) may share a Redis.
        "RATELIMIT_KEY_PREFIX": "desk-limits",
        # Jobs (docs/jobs.md): with REDIS_URL they go to this RQ queue, which `flask jobs worker`
        # works; without it they run inline. A job longer than the timeout is stopped and fails.
        "JOBS_QUEUE": "desk-jobs",
        "JOBS_TIMEOUT_SECONDS": 3600,
        # A prepared audit export's file is removed this many days after it is ready.
        "AUDIT_EXPORT_KEEP_DAYS": 7,
        # How many reverse proxies in front of the app set X-Forwarded-* (0: none, trust nothing).
        "PROXY_COUNT": 0,
        # Evidence limits (see services/evidence/storage.py); the body cap sits just above the total.
        "EVIDENCE_MAX_FILE_BYTES": DEFAULT_LIMITS.max_file_bytes,
        "EVIDENCE_MAX_FILES": DEFAULT_LIMITS.max_files,
        "EVIDENCE_MAX_TOTAL_BYTES": DEFAULT_LIMITS.max_total_bytes,
        "EVIDENCE_MAX_PIXELS": DEFAULT_LIMITS.max_pixels,
        # All files of one upload together: bounds the decoding work one request can ask for.
        "EVIDENCE_MAX_TOTAL_PIXELS": DEFAULT_LIMITS.max_total_pixels,
        # Files per seller per 24 hours, stored or refused: a refused upload cost the server as
        # much to check, so it counts as if it had been stored (see seller/uploads.py).
        "EVIDENCE_DAILY_QUOTA": 60,
        # With a job queue (REDIS_URL), an upload of at least this many pixels in all is answered
        # at once and decoded by a job, shown as "processing…" meanwhile (services/evidence/
        # processing.py): 12 MP take 0.15 s (a photo) to 0.6 s (a PNG) of CPU to decode and
        # re-encode (bench/held_uploads.py, evidence_pipeline.py). Without a queue, always at once.
        "EVIDENCE_BACKGROUND_PIXELS": 12_000_000,
        "MAX_CONTENT_LENGTH": DEFAULT_LIMITS.max_total_bytes + MB,
        "MAX_FORM_PARTS": 100,
        # Text fields (explanations, notes) are small; files are not held in memory by this cap.
        "MAX_FORM_MEMORY_SIZE": 256 * 1024,
        # The marketplace's JSON API (docs/api.md). Calls per token, in the limiter's moving window.
        "API_RATE_LIMIT": "120 per minute",
        # Refused (missing, unknown, revoked) tokens per client address; past it, 429 for a while.
        "API_FAILED_AUTH_PER_ADDRESS": "30 per 15 minutes",
        # A POST of 1,000 records whose texts are all at the 10,000-character limit is ~10.4 MB
        # (ASCII); beyond this a call sends fewer records. Only a caller with a good token gets it.
        "API_MAX_BODY_BYTES": 12 * MB,
        # The changed-requests list holds back the last seconds: a change stamped in a
        # transaction that commits later (concurrent writers on PostgreSQL) would otherwise land
        # behind a cursor already handed out. Decisions commit in milliseconds.
        "API_CHANGES_SETTLE_SECONDS": 5,
        # Signs audit-log checkpoints (`flask audit checkpoint`); keep it apart from SECRET_KEY.
        "AUDIT_CHECKPOINT_KEY": os.environ.get("AUDIT_CHECKPOINT_KEY"),
        "PAGE_SIZE": 25,
        # Queue: a claim lapses after this long without the holder's activity; requests older
        # than the response target are highlighted.
        "CLAIM_LEASE_MINUTES": 30,
        "RESPONSE_TARGET_HOURS": 48,
        # E-mail to sellers (docs/notifications.md). No SMTP_URL: messages wait in the outbox and
        # managers see them as undelivered on /notifications.
        "SMTP_URL": os.environ.get("SMTP_URL") or None,
        # Where sellers reach the desk: e-mails link to PUBLIC_URL/seller/requests/<id>.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL") or "http://127.0.0.1:5000",
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "Review moderation desk <no-reply@localhost>",
        "SMTP_TIMEOUT_SECONDS": 30,
        # A failed attempt waits 60 s, doubled each time up to 2 h; the 8th failure gives up.
        "NOTIFICATION_RETRY_SECONDS": 60,
        "NOTIFICATION_RETRY_MAX_SECONDS": 2 * 3600,
        "NOTIFICATION_MAX_ATTEMPTS": 8,
        # How often `notifications send` looks for due messages when there were none.
        "NOTIFICATION_POLL_SECONDS": 5,
        # Decisions to the marketplace as signed webhooks (docs/webhooks.md). No URL: events wait
        # in the outbox, listed on /webhooks. The secret is the Standard Webhooks `whsec_<base64>`.
        "MARKETPLACE_WEBHOOK_URL": os.environ.get("MARKETPLACE_WEBHOOK_URL") or None,
        "MARKETPLACE_WEBHOOK_SECRET": os.environ.get("MARKETPLACE_WEBHOOK_SECRET") or None,
        "WEBHOOK_TIMEOUT_SECONDS": 10,
        # A failed attempt waits 30 s, doubled each time up to 1 h; a failure 24 h after the first
        # of its run gives up (about 35 attempts), and a manager may retry it on /webhooks.
        "WEBHOOK_RETRY_SECONDS": 30,
        "WEBHOOK_RETRY_MAX_SECONDS": 3600,
        "WEBHOOK_GIVE_UP_HOURS": 24,
        "WEBHOOK_POLL_SECONDS": 5,
    }


def check_mail_settings(config: dict[str, object]) -> None:
    """A bad SMTP_URL, PUBLIC_URL or MAIL_FROM stops the app at start-up, not at the first e-mail."""
    if config.get("SMTP_URL"):
        try:
            parse_smtp_url(str(config["SMTP_URL"]))
        except SmtpUrlError as error:
            raise ConfigError(str(error)) from None
    public_url = urlsplit(str(config.get("PUBLIC_URL") or ""))
    if public_url.scheme not in ("http", "https") or not public_url.hostname:
        raise ConfigError("PUBLIC_URL must be the desk's http(s) address, e.g. "
                          "https://desk.example.com (e-mails link to it).")
    if "@" not in parseaddr(str(config.get("MAIL_FROM") or ""))[1]:
        raise ConfigError("MAIL_FROM must be an e-mail address, e.g. "
                          "'Review moderation <no-reply@desk.example.com>'.")


def check_storage_settings(config: dict[str, object]) -> None:
    """A mistyped EVIDENCE_STORAGE stops the app at start-up, not at the first upload."""
    location = config.get("EVIDENCE_STORAGE")
    if location:
        try:
            parse_s3_location(str(location))
        except ValueError as error:
            raise ConfigError(f"EVIDENCE_STORAGE: {error}; leave it unset for the local "
                              "folder UPLOAD_DIR.") from None
    endpoint = config.get("S3_ENDPOINT_URL")
    if endpoint and (urlsplit(str(endpoint)).scheme not in ("http", "https")
                     or not urlsplit(str(endpoint)).hostname):
        raise ConfigError("S3_ENDPOINT_URL must be an http(s) address, e.g. https://s3.example.com.")


def check_webhook_settings(config: dict[str, object]) -> None:
    """A bad MARKETPLACE_WEBHOOK_URL or _SECRET stops the app at start-up, not at the first
    decision: a URL needs a secret (the marketplace must be able to verify what it gets)."""
    url, secret = config.get("MARKETPLACE_WEBHOOK_URL"), config.get("MARKETPLACE_WEBHOOK_SECRET")
    try:
        if url:
            check_url(str(url))
            if not secret:
                raise ConfigError("MARKETPLACE_WEBHOOK_URL is set but MARKETPLACE_WEBHOOK_SECRET is "
                                  "not: webhooks are always signed (whsec_<base64>).")
        if secret:
            parse_secret(str(secret))
    except (WebhookUrlError, WebhookSecretError) as error:
        raise ConfigError(str(error)) from None


# What redis-py (the job queue) and `limits` (the rate limits) each connect to.
REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_redis_settings(config: dict[str, object]) -> None:
    """A mistyped REDIS_URL or RATELIMIT_STORAGE_URI stops the app at start-up, naming the
    setting and its scheme only: the URL carries Redis's password, and the libraries' own
    errors ("unknown storage scheme : redis+tls://:password@host") would print it whole in
    the start-up traceback."""
    from limits.storage import SCHEMES

    url = config.get("REDIS_URL")
    if url and (redis_scheme := urlsplit(str(url)).scheme) not in REDIS_SCHEMES:
        raise ConfigError(f"REDIS_URL must start with one of "
                          f"{', '.join(scheme + '://' for scheme in REDIS_SCHEMES)}, not "
                          f"{redis_scheme or '(no scheme)'}://.")
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    scheme = urlsplit(uri).scheme
    if scheme.startswith("async+") or scheme not in SCHEMES:
        from_redis_url = url and uri == url
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI{' (from REDIS_URL)' if from_redis_url else ''}: the rate "
            f"limits cannot be kept in {scheme or '(no scheme)'}://; use redis://, rediss:// or "
            "redis+unix:// (or FLASK_RATELIMIT_STORAGE_URI for a storage of its own).")


def check_settings(config: dict[str, object], *, testing: bool, debug: bool) -> None:
    check_mail_settings(config)
    check_redis_settings(config)
    check_storage_settings(config)
    check_webhook_settings(config)
    if not config.get("SECRET_KEY"):
        if testing or debug:
            # Development and tests get a throwaway key: sessions simply do not survive a restart.
            config["SECRET_KEY"] = os.urandom(32).hex()
        else:
            raise ConfigError(
                "SECRET_KEY is not set. Set it in the environment "
                "(e.g. `export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')`)."
            )
