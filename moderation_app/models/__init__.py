"""All models, imported here so Alembic and the app see one complete metadata."""

from moderation_app.models.api_tokens import ApiToken
from moderation_app.models.audit import AuditEvent
from moderation_app.models.counters import (
    AgentDayDecisions,
    RequestCount,
    RequestHourChanges,
    SellerDayRequests,
    SellerRatingTotals,
    SellerRequestCount,
)
from moderation_app.models.evidence import Evidence, EvidenceUpload, UploadStatus
from moderation_app.models.exports import AuditExport, ExportFormat, ExportStatus
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.notifications import Notification, NotificationKind, NotificationStatus
from moderation_app.models.replies import ReplyTemplate
from moderation_app.models.requests import (
    DeletionRequest,
    MessageKind,
    Reason,
    RequestMessage,
    RequestStatus,
)
from moderation_app.models.users import Role, User
from moderation_app.models.webhooks import (
    WebhookAttempt,
    WebhookEvent,
    WebhookEventType,
    WebhookStatus,
)

__all__ = [
    "AgentDayDecisions", "ApiToken", "AuditEvent", "AuditExport", "ExportFormat", "ExportStatus", "Buyer", "DeletionRequest", "Evidence", "EvidenceUpload", "MessageKind", "Notification",
    "NotificationKind", "NotificationStatus", "Offer", "Order",
    "OrderStatus", "Reason", "ReplyTemplate", "RequestCount", "RequestHourChanges", "RequestMessage", "RequestStatus", "Review",
    "Role", "SellerDayRequests", "SellerRatingTotals", "SellerRequestCount", "UploadStatus", "User",
    "WebhookAttempt", "WebhookEvent", "WebhookEventType", "WebhookStatus",
]
