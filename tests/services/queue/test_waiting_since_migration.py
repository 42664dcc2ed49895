"""Migration f7a1b2c3d4e5 on rows it finds: waiting_since from the latest seller answer (or, while
the request waits on the seller, the latest question), else submitted_at; decided requests without
decided_at get their last change, so the closed tabs' keyset has a time on every row."""

from __future__ import annotations

from flask_migrate import upgrade

from moderation_app.extensions import db
from moderation_app.models.requests import DeletionRequest, MessageKind, RequestMessage, RequestStatus
from moderation_app.models.users import Role, User
from tests.helpers.dashboard import DeskData, at
from tests.helpers.database import database_at_revision


def test_the_migration_sets_waiting_since_from_the_conversation(tmp_path):
    with database_at_revision("e5c7a9d3b4f6", tmp_path) as app:
        with app.app_context():
            # timezone: NOT NULL until migration b2d9e4f60a17, and today's model leaves it None.
            seller, agent = (User(email=f"{role.value}@example.com", role=role, timezone="UTC")
                             for role in (Role.SELLER, Role.AGENT))
            db.session.add_all([seller, agent])
            db.session.commit()
            seller_id, agent_id = seller.id, agent.id
        desk = DeskData(app)
        untouched = desk.request(seller_id, at("2026-05-01 10:00:00"))
        answered = desk.request(seller_id, at("2026-05-01 11:00:00"))
        asked = desk.request(seller_id, at("2026-05-01 12:00:00"), status=RequestStatus.NEEDS_INFO)
        approved = desk.request(seller_id, at("2026-05-01 13:00:00"), status=RequestStatus.APPROVED)
        messages = [
            (answered, agent_id, MessageKind.INFO_REQUESTED, "2026-05-02 09:00:00"),
            (answered, seller_id, MessageKind.SELLER_REPLY, "2026-05-03 09:00:00"),
            (answered, agent_id, MessageKind.INFO_REQUESTED, "2026-05-04 09:00:00"),
            (answered, seller_id, MessageKind.SELLER_REPLY, "2026-05-05 09:00:00"),
            (answered, agent_id, MessageKind.INTERNAL_NOTE, "2026-05-06 09:00:00"),
            (asked, agent_id, MessageKind.INFO_REQUESTED, "2026-05-02 10:00:00"),
            (asked, seller_id, MessageKind.SELLER_REPLY, "2026-05-03 10:00:00"),
            (asked, agent_id, MessageKind.INFO_REQUESTED, "2026-05-07 10:00:00"),
        ]
        with app.app_context():
            for request_id, author_id, kind, moment in messages:
                db.session.add(RequestMessage(request_id=request_id, author_id=author_id, kind=kind,
                                              body="…", created_at=at(moment)))
            db.session.commit()
            upgrade()
            db.session.remove()
        with app.app_context():
            def waiting(request_id: int):
                return db.session.get(DeletionRequest, request_id).waiting_since

            assert waiting(untouched) == at("2026-05-01 10:00:00")
            assert waiting(answered) == at("2026-05-05 09:00:00")
            assert waiting(asked) == at("2026-05-07 10:00:00")
            decided = db.session.get(DeletionRequest, approved)
            assert decided.decided_at == decided.updated_at == at("2026-05-01 13:00:00")
