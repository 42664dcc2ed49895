"""Demo deletion requests with drawn "chat screenshots", filed through the real services."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DeletionRequest, Reason
from moderation_app.models.users import User
from moderation_app.services.evidence.storage import StagedFiles, prepare_images
from moderation_app.services.requests.appeals import appeal
from moderation_app.services.requests.claims import claim
from moderation_app.services.requests.decisions import Decision, decide
from moderation_app.services.requests.filing import refusal_for, submit_request, withdraw_request
from moderation_app.settings import claim_lease, daily_upload_quota, evidence_limits

# Which suspect demo text fits which reason, and what the seller says about it.
SUSPECT_REASONS = {
    "SCAM seller": (Reason.COMPETITOR_ATTACK,
                    "This buyer account was created the day of the order and the review advertises a "
                    "competing shop by name. Chat attached."),
    "my character was banned": (Reason.WRONG_OFFER,
                                "The review talks about an account purchase, which this offer does not sell. "
                                "The order page is attached."),
    "50% off": (Reason.BLACKMAIL,
                "The buyer offered to change the rating in exchange for a discount. See the chat."),
    "internet provider": (Reason.UNRELATED_FEEDBACK,
                          "The review is about the buyer's internet connection, not about my service."),
    "free extra coaching": (Reason.BLACKMAIL,
                            "The buyer demanded a free session and threatened a 1-star review."),
}


def chat_screenshot(buyer: str, lines: list[str], seed: int) -> bytes:
    """A plausible chat screenshot: header, alternating bubbles."""
    width, height = 720, 140 + 70 * len(lines)
    image = Image.new("RGB", (width, height), (245, 246, 249))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    draw.rectangle((0, 0, width, 56), fill=(29, 35, 48))
    draw.text((20, 18), f"Chat with {buyer} · order #{50000 + seed}", fill="white", font=font)
    for index, text in enumerate(lines):
        mine = index % 2 == 1
        top = 80 + index * 70
        left = 300 if mine else 20
        draw.rounded_rectangle((left, top, left + 400, top + 50), radius=12,
                               fill=(219, 231, 255) if mine else "white", outline=(223, 227, 234))
        draw.text((left + 14, top + 14), text[:40], fill=(29, 35, 48), font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def seed_demo_requests(seller: User, staged: StagedFiles, agent: User | None = None) -> int:
    """File demo requests for a seller's suspect reviews, once. Returns how many were filed.
    The caller commits inside the `staged` block, so a failed commit leaves no files behind."""
    if db.session.scalar(select(func.count()).select_from(DeletionRequest)
                         .where(DeletionRequest.seller_id == seller.id)):
        return 0
    filed: list[DeletionRequest] = []
    reviews = db.session.scalars(select(Review).where(Review.seller_id == seller.id)
                                 .order_by(Review.created_at))
    for review in reviews:
        match = next((key for key in SUSPECT_REASONS if key in review.text), None)
        if match is None or refusal_for(review) is not None:
            continue
        reason, explanation = SUSPECT_REASONS[match]
        screenshot = chat_screenshot(review.buyer.username, [
            review.text[:40], "Sorry to hear that, how can I help?", review.text[40:80] or "...",
        ], review.id)
        images = prepare_images([("chat.png", io.BytesIO(screenshot))], evidence_limits())
        deletion_request = submit_request(seller, review, reason, explanation, images, staged,
                                          daily_quota=daily_upload_quota())
        # Spread over the last days, so the queue shows ages on both sides of the 48 h target.
        deletion_request.submitted_at = utcnow() - timedelta(hours=9 * (len(filed) + 1))
        deletion_request.waiting_since = deletion_request.submitted_at
        filed.append(deletion_request)
    if len(filed) > 2:
        withdraw_request(seller, filed[-1], "Sorted it out with the buyer directly.")
    if agent is not None and len(filed) > 5:
        for deletion_request, decision, note in (
            (filed[0], Decision.APPROVE, "The chat shows the buyer bargaining with the rating."),
            (filed[1], Decision.REJECT, "The screenshots do not show the review is about another offer."),
            (filed[2], Decision.REQUEST_INFO, "Please add the chat page where the buyer names the "
                                              "other shop."),
        ):
            claim(agent, deletion_request, claim_lease())
            decide(agent, deletion_request, decision, note)
        # Appeals (issue 13): filed[1] stays a rejection the seller may still appeal; this one
        # was rejected and appealed, and waits in the queue's appealed tab for another agent.
        appealed = filed[3]
        claim(agent, appealed, claim_lease())
        decide(agent, appealed, Decision.REJECT, "The chat does not show who the buyer works for.")
        page_two = chat_screenshot(appealed.review.buyer.username, [
            "check out rivalboost.example instead", "Do you work for them?", "maybe :)"], 7)
        appeal(seller, appealed, "The second page of the chat, attached now, shows the buyer "
                                 "linking to the rival shop he works for.",
               prepare_images([("chat-page-2.png", io.BytesIO(page_two))], evidence_limits()),
               staged, daily_quota=daily_upload_quota())
    return len(filed)
