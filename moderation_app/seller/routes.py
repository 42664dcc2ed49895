"""Seller views: their reviews and rating."""

from __future__ import annotations

from flask import current_app, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from moderation_app.extensions import db
from moderation_app.models.marketplace import CRITERION_LABELS, Order, Review
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.seller import bp
from moderation_app.services.ratings import seller_rating


@bp.route("/reviews")
@role_required(Role.SELLER)
def reviews() -> str:
    query = (
        select(Review)
        .where(Review.seller_id == current_user.id)
        .options(joinedload(Review.order).joinedload(Order.offer), joinedload(Review.buyer))
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], max_per_page=100,
                       error_out=False)
    return render_template(
        "seller/reviews.html",
        page=page,
        rating=seller_rating(current_user.id),
        criterion_labels=CRITERION_LABELS,
    )
