"""Migration c7d3e9a2b6f1 on the rows it finds: the status and message-kind CHECKs admit the new
values (and still refuse others), an appeal counts as open for the one-open-request-per-review
index, old decisions are not on appeal; the downgrade turns a pending appeal back into its
rejection."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from moderation_app.extensions import db
from moderation_app.models.requests import RequestStatus
from moderation_app.models.users import Role, User
from tests.helpers.dashboard import DeskData, at
from tests.helpers.database import database_at_revision

BEFORE, AFTER = "b5e2d8c1f4a9", "c7d3e9a2b6f1"


def sql(app, statement: str, **parameters):
    with app.app_context(), db.engine.begin() as connection:
        return connection.execute(text(statement), parameters)


def test_the_migration_admits_appeals_on_both_databases_and_downgrades(tmp_path):
    with database_at_revision(BEFORE, tmp_path) as app:
        with app.app_context():
            seller, agent = (User(email=f"{role.value}@example.com", role=role, timezone="UTC")
                             for role in (Role.SELLER, Role.AGENT))
            db.session.add_all([seller, agent])
            db.session.commit()
            seller_id, agent_id = seller.id, agent.id
        rejected = DeskData(app).request(seller_id, at("2026-05-01 10:00:00"),
                                         status=RequestStatus.REJECTED,
                                         decided_at=at("2026-05-02 10:00:00"), decided_by_id=agent_id)
        sql(app, "INSERT INTO decisions (request_id, agent_id, decision, reason, submitted_at, "
                 "decided_at, seconds_since_submission) VALUES (:id, :agent, 'reject', 'blackmail', "
                 "'2026-05-01 10:00:00', '2026-05-02 10:00:00', 86400)", id=rejected, agent=agent_id)
        with pytest.raises(IntegrityError):  # the CHECK as it was
            sql(app, "UPDATE deletion_requests SET status = 'appealed' WHERE id = :id", id=rejected)

        with app.app_context():
            upgrade(revision=AFTER)
            db.engine.dispose()

        assert sql(app, "SELECT on_appeal FROM decisions").scalar() in (False, 0)
        sql(app, "UPDATE deletion_requests SET status = 'appealed', appealed_at = decided_at, "
                 "first_decided_by_id = decided_by_id WHERE id = :id", id=rejected)
        sql(app, "INSERT INTO request_messages (request_id, author_id, kind, body, created_at) "
                 "VALUES (:id, :seller, 'appeal', 'Please look again.', '2026-05-03 10:00:00')",
            id=rejected, seller=seller_id)
        with pytest.raises(IntegrityError):  # still a CHECK: only the statuses the desk knows
            sql(app, "UPDATE deletion_requests SET status = 'bogus' WHERE id = :id", id=rejected)
        review_id = sql(app, "SELECT review_id FROM deletion_requests WHERE id = :id",
                        id=rejected).scalar()
        with pytest.raises(IntegrityError):  # an appeal is open: no second open request
            sql(app, "INSERT INTO deletion_requests (review_id, seller_id, buyer_id, reason, "
                     "explanation, review_snapshot, status, submitted_at, waiting_since, updated_at, "
                     "version) SELECT review_id, seller_id, buyer_id, reason, explanation, "
                     "review_snapshot, 'submitted', submitted_at, submitted_at, updated_at, 1 "
                     "FROM deletion_requests WHERE id = :id", id=rejected)

        with app.app_context():
            downgrade(revision=BEFORE)
            db.engine.dispose()

        assert sql(app, "SELECT status FROM deletion_requests WHERE id = :id",
                   id=rejected).scalar() == "rejected"
        assert sql(app, "SELECT kind FROM request_messages").scalar() == "seller_reply"
        with pytest.raises(IntegrityError):
            sql(app, "UPDATE deletion_requests SET status = 'appealed' WHERE id = :id", id=rejected)
