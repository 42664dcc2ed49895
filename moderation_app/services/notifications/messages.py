"""What a notification says, as a multipart e-mail (plain text and HTML). The facts come from the
statement of reasons (or the agent's question), the link from PUBLIC_URL; the wording is in
templates/email/, rendered by the caller's `render` (services know no Flask). Never the evidence
files themselves, never internal notes: the context holds neither."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from moderation_app.models.notifications import Notification, NotificationKind
from moderation_app.services.requests.statement import question_asked, statement_of_reasons

# render(template name, **context) -> text; e.g. flask.render_template.
Render = Callable[..., str]

SUBJECTS = {
    NotificationKind.REQUEST_DECIDED: "Your deletion request #{id} has been decided",
    NotificationKind.APPEAL_DECIDED: "Your appeal on deletion request #{id} has been decided",
    NotificationKind.INFORMATION_REQUESTED: "Deletion request #{id}: we need more information",
}

TEMPLATES = {
    NotificationKind.REQUEST_DECIDED: "decision",
    NotificationKind.APPEAL_DECIDED: "decision",
    NotificationKind.INFORMATION_REQUESTED: "question",
}


@dataclass(frozen=True)
class MailSettings:
    sender: str        # the From header, e.g. "Review moderation <no-reply@desk.example.com>"
    public_url: str    # where sellers reach the desk, e.g. https://desk.example.com


def request_link(public_url: str, request_id: int) -> str:
    return f"{public_url.rstrip('/')}/seller/requests/{request_id}"


def message_id(notification: Notification, sender: str) -> str:
    """Stable for the notification: every resend of it carries the same Message-ID."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification.id}.{notification.message_token}@{domain}>"


def seller_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


EXCERPT_CHARS = 160


@dataclass(frozen=True)
class ReviewLine:
    """Which review the e-mail is about, as the request froze it: a seller with many requests
    knows it by the buyer, the offer and its first words, not by the request's number."""

    review_id: str
    buyer: str
    offer_title: str
    excerpt: str


def review_line(snapshot: dict[str, object]) -> ReviewLine:
    text = " ".join(str(snapshot.get("text") or "").split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return ReviewLine(review_id=str(snapshot.get("review_id", "")), buyer=str(snapshot.get("buyer", "")),
                      offer_title=str(snapshot.get("offer_title", "")), excerpt=text)


def message_context(notification: Notification, settings: MailSettings) -> dict[str, object]:
    deletion_request = notification.request
    zone = seller_zone(notification.recipient.timezone)
    context: dict[str, object] = {
        "kind": notification.kind.value,
        "request_id": deletion_request.id,
        "reason_label": deletion_request.reason.label,
        "review": review_line(deletion_request.review_snapshot),
        "link": request_link(settings.public_url, deletion_request.id),
        "local": lambda moment: moment.astimezone(zone) if isinstance(moment, datetime) else moment,
    }
    if notification.kind is NotificationKind.INFORMATION_REQUESTED:
        context["question"] = question_asked(notification.decision)
    else:
        context["statement"] = statement_of_reasons(
            deletion_request, notification.decision,
            on_appeal=notification.kind is NotificationKind.APPEAL_DECIDED)
    return context


def compose(notification: Notification, settings: MailSettings, render: Render,
            now: datetime) -> EmailMessage:
    context = message_context(notification, settings)
    message = EmailMessage()
    message["Subject"] = SUBJECTS[notification.kind].format(id=notification.request_id)
    message["From"] = settings.sender
    message["To"] = Address(addr_spec=notification.recipient.email)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(notification, settings.sender)
    # RFC 3834: sent by a program, so auto-responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    template = TEMPLATES[notification.kind]
    message.set_content(render(f"email/{template}.txt", **context))
    message.add_alternative(render(f"email/{template}.html", **context), subtype="html")
    return message
