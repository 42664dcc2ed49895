"""What each audit action means, in words: the one table the viewer's labels and filter read.

Every action the desk records has a label here; a test reads every `record_event(...)` call in the
package and fails on an action without one."""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "api.reviews_received": "Reviews received through the API",
    "api_token.created": "API token created",
    "api_token.revoked": "API token revoked",
    "audit.checkpointed": "Audit checkpoint signed",
    "audit.export_requested": "Audit export requested",
    "audit.exported": "Audit log exported",
    "audit.exports_cleaned": "Old audit exports removed",
    "auth.login": "Signed in",
    "auth.login_failed": "Sign-in failed",
    "auth.logout": "Signed out",
    "auth.reauthenticated": "Password confirmed",
    "auth.reauthentication_failed": "Password confirmation failed",
    "auth.session_expired": "Session expired",
    "counters.rebuilt": "Request counters rebuilt",
    "evidence.failed": "Large screenshot could not be processed",
    "evidence.gc": "Orphaned evidence files removed",
    "evidence.migrated": "Evidence copied to S3",
    "evidence.processed": "Large screenshot processed",
    "marketplace.imported": "Marketplace data imported",
    "reply_template.created": "Reply template created",
    "reply_template.edited": "Reply template edited",
    "reply_template.reactivated": "Reply template reactivated",
    "reply_template.retired": "Reply template retired",
    "request.appealed": "Request appealed",
    "request.claimed": "Request claimed",
    "request.decided": "Request decided",
    "request.evidence_added": "Seller answered",
    "request.note_added": "Internal note added",
    "request.released": "Request released",
    "request.submitted": "Request submitted",
    "request.withdrawn": "Request withdrawn",
    "user.created": "Account created",
    "user.deactivated": "Account deactivated",
    "user.password_rehashed": "Password hash upgraded",
    "user.password_reset_link": "Password link sent",
    "user.password_set": "Password set",
    "user.reactivated": "Account reactivated",
    "user.role_changed": "Role changed",
    "webhook.retried": "Webhook retried",
}


def action_label(action: str) -> str:
    """The label, or the code itself for an action recorded by an older version of the desk."""
    return ACTION_LABELS.get(action, action)
