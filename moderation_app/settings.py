"""The app's settings as the plain values services take.

Read from the config at call time, not cached at start-up: tests and the CLI may change a
setting after the app is built. Views, the CLI and demo data call these; services never do.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import current_app

from moderation_app.services.evidence.backends import (
    EXPORT_NAMES,
    EXPORTS_FOLDER,
    Backend,
    LocalFiles,
    S3Objects,
    S3Settings,
    parse_s3_location,
)
from moderation_app.services.evidence.images import EvidenceLimits
from moderation_app.services.evidence.storage import EvidenceStore
from moderation_app.services.notifications.messages import MailSettings
from moderation_app.services.notifications.outbox import RetryPolicy
from moderation_app.services.notifications.smtp import SmtpTransport, parse_smtp_url
from moderation_app.services.webhooks.outbox import RetryPolicy as WebhookRetryPolicy
from moderation_app.services.webhooks.transport import WebhookTransport


def claim_lease() -> timedelta:
    return timedelta(minutes=current_app.config["CLAIM_LEASE_MINUTES"])


def response_target() -> timedelta:
    return timedelta(hours=current_app.config["RESPONSE_TARGET_HOURS"])


def evidence_limits() -> EvidenceLimits:
    config = current_app.config
    return EvidenceLimits(
        max_file_bytes=config["EVIDENCE_MAX_FILE_BYTES"],
        max_files=config["EVIDENCE_MAX_FILES"],
        max_total_bytes=config["EVIDENCE_MAX_TOTAL_BYTES"],
        max_pixels=config["EVIDENCE_MAX_PIXELS"],
        max_total_pixels=config["EVIDENCE_MAX_TOTAL_PIXELS"],
    )


def evidence_hold_from_pixels() -> int | None:
    """Uploads of at least this many pixels are decoded by a job (services/evidence/processing.py);
    None without a job queue, where every upload is decoded at once."""
    config = current_app.config
    if not config.get("REDIS_URL"):
        return None
    return int(config["EVIDENCE_BACKGROUND_PIXELS"])


def daily_upload_quota() -> int:
    return int(current_app.config["EVIDENCE_DAILY_QUOTA"])


def evidence_store() -> EvidenceStore:
    """S3 when EVIDENCE_STORAGE names a bucket, else the local folder UPLOAD_DIR."""
    config = current_app.config
    if config.get("EVIDENCE_STORAGE"):
        return EvidenceStore(S3Objects(s3_settings(config["EVIDENCE_STORAGE"])))
    return EvidenceStore(config["UPLOAD_DIR"])


def export_files() -> Backend:
    """Prepared audit exports: the folder `exports/` of the evidence store, so every desk server
    (and every worker) reads what another wrote when the store is S3."""
    config = current_app.config
    if config.get("EVIDENCE_STORAGE"):
        return S3Objects(s3_settings(config["EVIDENCE_STORAGE"]), EXPORT_NAMES, EXPORTS_FOLDER)
    return LocalFiles(Path(config["UPLOAD_DIR"]) / EXPORTS_FOLDER, EXPORT_NAMES)


def export_keep() -> timedelta:
    return timedelta(days=float(current_app.config["AUDIT_EXPORT_KEEP_DAYS"]))


def s3_settings(location: str) -> S3Settings:
    config = current_app.config
    return S3Settings(parse_s3_location(location), endpoint_url=config.get("S3_ENDPOINT_URL"),
                      region=config.get("S3_REGION"))


def page_size() -> int:
    return int(current_app.config["PAGE_SIZE"])


def smtp_transport() -> SmtpTransport | None:
    """None without SMTP_URL: nothing is sent, the outbox keeps every message."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        return None
    return SmtpTransport(parse_smtp_url(url),
                         timeout=float(current_app.config["SMTP_TIMEOUT_SECONDS"]))


def mail_settings() -> MailSettings:
    return MailSettings(sender=current_app.config["MAIL_FROM"],
                        public_url=current_app.config["PUBLIC_URL"])


def retry_policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(first_delay=timedelta(seconds=float(config["NOTIFICATION_RETRY_SECONDS"])),
                       max_delay=timedelta(seconds=float(config["NOTIFICATION_RETRY_MAX_SECONDS"])),
                       max_attempts=int(config["NOTIFICATION_MAX_ATTEMPTS"]))


def webhook_transport() -> WebhookTransport | None:
    """None without MARKETPLACE_WEBHOOK_URL: nothing is sent, events wait in the outbox."""
    config = current_app.config
    if not config.get("MARKETPLACE_WEBHOOK_URL"):
        return None
    return WebhookTransport(config["MARKETPLACE_WEBHOOK_URL"], config["MARKETPLACE_WEBHOOK_SECRET"],
                            timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]))


def webhook_retry_policy() -> WebhookRetryPolicy:
    config = current_app.config
    return WebhookRetryPolicy(
        first_delay=timedelta(seconds=float(config["WEBHOOK_RETRY_SECONDS"])),
        max_delay=timedelta(seconds=float(config["WEBHOOK_RETRY_MAX_SECONDS"])),
        give_up_after=timedelta(hours=float(config["WEBHOOK_GIVE_UP_HOURS"])))
