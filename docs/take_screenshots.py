"""Screenshots of every page as its user sees it, on demo data, in Debian's Chromium.

    .venv/bin/python docs/take_screenshots.py     (or `make screenshots`)

Serves the app on a throwaway SQLite database with the demo data loaded and writes PNGs to
docs/screenshots/.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from moderation_app import create_app  # noqa: E402
from moderation_app.database import utcnow  # noqa: E402
from moderation_app.demo.seed import DEMO_LOGINS, seed_demo  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models import (  # noqa: E402
    DeletionRequest,
    EvidenceUpload,
    Notification,
    NotificationKind,
    RequestStatus,
    Review,
)
from moderation_app.models.exports import AuditExport, ExportFormat  # noqa: E402
from moderation_app.models.requests import Decision, Reason  # noqa: E402
from moderation_app.models.users import Role  # noqa: E402
from moderation_app.services.accounts import find_user, invite  # noqa: E402
from moderation_app.services.requests.claims import claim  # noqa: E402
from moderation_app.services.evidence.processing import process_upload, request_pending  # noqa: E402
from moderation_app.services.evidence.storage import HeldUpload  # noqa: E402
from moderation_app.services.requests.decisions import decide  # noqa: E402
from moderation_app.services.requests.filing import submit_request  # noqa: E402
from moderation_app.settings import (  # noqa: E402
    claim_lease,
    daily_upload_quota,
    evidence_limits,
    evidence_store,
)
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.helpers.dashboard import DeskData  # noqa: E402
from tests.helpers.images import image_bytes, noisy_png  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def login_for(role: str) -> tuple[str, str]:
    email, _, password = next(login for login in DEMO_LOGINS if login[1] == role)
    return email, password


def add_a_month_of_history(app) -> None:
    """The demo desk is a day old; the dashboard's pictures show it after a month of work.
    Rows are written straight to the tables (as the dashboard's tests do), so no audit event
    backs them: pictures only, never `make run`."""
    rng = random.Random(4)
    desk = DeskData(app)
    now = utcnow()
    with app.app_context():
        ids = {email: find_user(email).id for email, _, _ in DEMO_LOGINS}
    sellers = [ids[email] for email, role, _ in DEMO_LOGINS if role == "seller"]
    # (who decides, how often they approve): one agent approves far more than the rest.
    deciders = [(ids["ana.agent@example.com"], .4), (ids["omar.agent@example.com"], .8),
                (ids["lena.manager@example.com"], .45)]
    for days_ago in range(30, 0, -1):
        for _ in range(rng.randint(2, 9)):
            agent, approves = rng.choice(deciders)
            decision = Decision.APPROVE if rng.random() < approves else Decision.REJECT
            if rng.random() < .1:
                decision = Decision.REQUEST_INFO
            desk.decided(rng.choice(sellers), agent, decision,
                         now - timedelta(days=days_ago, hours=rng.random() * 10),
                         hours=rng.uniform(2, 70), reason=rng.choice(list(Reason)),
                         claim_minutes=rng.uniform(3, 40))


def add_held_screenshots(seller, fresh_review: str) -> int:
    """A request whose large screenshots a job has not processed yet (docs/jobs.md), one of them
    found damaged: what the seller and the agent holding it see meanwhile."""
    review = db.session.scalar(select(Review).where(
        Review.seller_id == seller.id, Review.external_id != fresh_review,
        ~Review.id.in_(select(DeletionRequest.review_id))).order_by(Review.id.desc()))
    cut = noisy_png((900, 700), seed=8)
    held = [HeldUpload("whole-chat.png", "png", 1600, 900, image_bytes("PNG", (1600, 900), 7)),
            HeldUpload("chat-cut-off.png", "png", 900, 700, cut[: len(cut) // 2])]
    with evidence_store().transaction() as staged:
        deletion_request = submit_request(
            seller, review, Reason.WRONG_OFFER,
            "The buyer reviewed the logo offer, but this order was a website. The chat shows it.",
            held, staged, daily_quota=daily_upload_quota())
        db.session.commit()
    damaged = db.session.scalar(select(EvidenceUpload.id).where(
        EvidenceUpload.request_id == deletion_request.id,
        EvidenceUpload.original_filename == "chat-cut-off.png"))
    process_upload(damaged, evidence_store(), evidence_limits(), commit=db.session.commit)
    return deletion_request.id


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/screens.sqlite3",
            "SECRET_KEY": "screenshots-only", "SESSION_COOKIE_SECURE": False,
            "UPLOAD_DIR": f"{folder}/uploads",
        })
        with app.app_context():
            upgrade()
            with evidence_store().transaction() as staged:
                seed_demo(staged)
                db.session.commit()
            seller = find_user(login_for("seller")[0])
            first_request = db.session.scalar(select(DeletionRequest.id).where(
                DeletionRequest.seller_id == seller.id).order_by(DeletionRequest.id))
            approved_request = db.session.scalar(select(DeletionRequest.id).where(
                DeletionRequest.status == RequestStatus.APPROVED))
            # The demo's rejection the seller may still appeal, and the appeal waiting in the queue.
            rejected_request = db.session.scalar(select(DeletionRequest.id).where(
                DeletionRequest.seller_id == seller.id,
                DeletionRequest.status == RequestStatus.REJECTED).order_by(DeletionRequest.id))
            appealed_request = db.session.scalar(select(DeletionRequest.id).where(
                DeletionRequest.status == RequestStatus.APPEALED))
            fresh_review = db.session.scalar(select(Review.external_id).where(
                Review.seller_id == seller.id, Review.rating_fulfillment <= 2,
                ~Review.id.in_(select(DeletionRequest.review_id))).order_by(Review.id))
            # The seller's e-mails as a manager reads them: the rejection, the question.
            rejection_mail = db.session.scalar(select(Notification.id).where(
                Notification.request_id == rejected_request))
            question_mail = db.session.scalar(select(Notification.id).where(
                Notification.kind == NotificationKind.INFORMATION_REQUESTED))
            # A new colleague's one-time link, as /team shows it to the manager.
            new_agent_link = invite("sam.agent@example.com", Role.AGENT,
                                    find_user(login_for("manager")[0]), utcnow()).token
            db.session.commit()
            held_request = add_held_screenshots(seller, fresh_review)
        add_a_month_of_history(app)
        sample_files = []
        for seed, name in ((3, "chat-with-buyer.png"), (5, "order-history.png")):
            sample = Path(folder) / name
            sample.write_bytes(image_bytes("PNG", (900, 560), seed))
            sample_files.append(sample)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)

            def shoot(name: str, path: str, role: str | None = None, full_page: bool = True,
                      claim_next: bool = False, idle_out: bool = False, database_down: bool = False,
                      then=None, phone: bool = True) -> None:
                """The page at desktop width, and (phone=True) again at 390 px as `<name>-phone`.
                `then(page)` acts on the page first: a key pressed, a file chosen."""
                for width, suffix in ((1280, ""), (390, "-phone")) if phone else ((1280, ""),):
                    context = browser.new_context(viewport={"width": width, "height": 860 if width > 600 else 844})
                    page = context.new_page()
                    if role:
                        email, password = login_for(role)
                        page.goto(f"{base}/login")
                        page.fill("input[name=email]", email)
                        page.fill("input[name=password]", password)
                        page.click("main button[type=submit]")
                        page.wait_for_load_state()
                    if idle_out:  # staff idle timeout, shortened to a second for the picture
                        app.config["SESSION_IDLE_TIMEOUT_STAFF"] = timedelta(seconds=1)
                        time.sleep(2.1)
                        page.goto(f"{base}{path}")
                        app.config["SESSION_IDLE_TIMEOUT_STAFF"] = timedelta(minutes=30)
                    elif database_down:  # the database file gone, as in tests/views/test_database_outage.py
                        database_file = Path(folder) / "screens.sqlite3"
                        with app.app_context():
                            db.engine.dispose()
                        database_file.rename(database_file.with_suffix(".parked"))
                        database_file.mkdir()
                        page.goto(f"{base}{path}")
                        database_file.rmdir()
                        database_file.with_suffix(".parked").rename(database_file)
                    elif claim_next:  # press "Take the next request" on the queue page
                        page.goto(f"{base}/queue")
                        page.click("text=Take the next request")
                        page.wait_for_load_state()
                    else:
                        page.goto(f"{base}{path}")
                    if then:
                        then(page)
                        page.wait_for_timeout(300)  # images in a dialog, a preview's thumbnail
                    if full_page:  # thumbnails load lazily: bring each into view once
                        page.evaluate("document.querySelectorAll('img[loading=lazy]')"
                                      ".forEach(image => { image.loading = 'eager'; })")
                        page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / f"{name}{suffix}.png"), full_page=full_page)
                    print(f"{name}{suffix}.png  {path}  as {role or 'anonymous'}")
                    context.close()

            def press(*keys: str):
                def act(page) -> None:
                    for key in keys:
                        page.keyboard.press(key)
                        page.wait_for_timeout(150)
                return act

            def prepare_export(page) -> None:
                page.click("button:has-text('Prepare download')")
                page.wait_for_load_state()

            def choose_files(page) -> None:
                page.set_input_files("#evidence", [str(path) for path in sample_files])

            shoot("login", "/login")
            shoot("seller-reviews", "/seller/reviews", "seller", full_page=False)
            shoot("agent-queue", "/queue", "agent")
            shoot("manager-dashboard", "/dashboard", "manager")
            shoot("agent-dashboard", "/dashboard", "agent")
            shoot("manager-team", "/team", "manager")
            shoot("manager-team-member", "/team/3", "manager")
            shoot("set-password", f"/set-password/{new_agent_link}")
            shoot("seller-request-form", f"/seller/reviews/{fresh_review}/deletion-request", "seller")
            shoot("seller-request-form-previews", f"/seller/reviews/{fresh_review}/deletion-request",
                  "seller", then=choose_files)
            shoot("seller-requests", "/seller/requests", "seller")
            shoot("seller-request-detail", f"/seller/requests/{first_request}", "seller")
            shoot("seller-statement-and-appeal-form", f"/seller/requests/{rejected_request}", "seller")
            shoot("seller-withdraw", f"/seller/requests/{first_request}/withdraw", "seller")
            shoot("account-settings", "/account", "seller")
            shoot("not-found", "/seller/nothing-here", "seller")
            shoot("agent-request-detail", "/queue/next", "agent", claim_next=True, full_page=False)
            shoot("agent-request-detail-full", "/queue/next", "agent", claim_next=True, phone=False)
            shoot("agent-shortcuts", "/queue/next", "agent", claim_next=True, full_page=False,
                  then=press("?"))
            shoot("agent-evidence-viewer", "/queue/next", "agent", claim_next=True, full_page=False,
                  then=press("e"))
            shoot("agent-reply-template-picker", "/queue/next", "agent", claim_next=True,
                  full_page=False, then=press("a"))
            shoot("seller-evidence-processing", f"/seller/requests/{held_request}", "seller")
            with app.app_context():  # held by the agent, after the queue's "next" pictures
                claim(find_user(login_for("agent")[0]),
                      db.session.get(DeletionRequest, held_request), claim_lease())
                db.session.commit()
            shoot("agent-evidence-processing", f"/requests/{held_request}", "agent", full_page=False)

            def approve_while_the_job_stores_it(page) -> None:
                """The holder approves from the page opened while the file was processing."""
                page.check("input[name=decision][value=approve]")
                page.fill("textarea[name=note]", "The chat shows the buyer meant the logo offer.")
                with app.app_context():
                    for upload_id in request_pending(held_request):
                        process_upload(upload_id, evidence_store(), evidence_limits(),
                                       commit=db.session.commit)
                page.get_by_role("button", name="Record decision", exact=True).click()
                page.wait_for_load_state()

            shoot("agent-evidence-added-meanwhile", f"/requests/{held_request}", "agent",
                  full_page=False, then=approve_while_the_job_stores_it, phone=False)
            shoot("agent-appealed-tab", "/queue?status=appealed", "agent")
            shoot("agent-appeal", f"/requests/{appealed_request}", "agent")
            shoot("manager-request-approved", f"/requests/{approved_request}", "manager")
            shoot("manager-audit-log", "/audit", "manager", full_page=False)
            shoot("manager-confirm-password", "/reauthenticate?next=/audit/export.csv", "manager")
            shoot("manager-notifications", "/notifications", "manager")
            shoot("manager-reply-templates", "/reply-templates", "manager")
            shoot("manager-webhooks", "/webhooks", "manager")
            shoot("manager-webhook-event", "/webhooks/2", "manager")
            shoot("manager-audit-exports", "/audit/exports", "manager", then=prepare_export)
            with app.app_context():  # one still waiting for a worker: the list updates itself
                db.session.add(AuditExport(requested_by_id=find_user(login_for("manager")[0]).id,
                                           format=ExportFormat.JSONL))
                db.session.commit()
            shoot("manager-audit-exports-in-progress", "/audit/exports", "manager",
                  then=lambda page: page.fill("input[name=actor]", "ana"))
            shoot("manager-email-rejection", f"/notifications/{rejection_mail}", "manager")
            shoot("manager-email-question", f"/notifications/{question_mail}", "manager")
            # Another agent upholds the appeal: the seller's final e-mail.
            with app.app_context():
                colleague = find_user("omar.agent@example.com")
                appealed = db.session.get(DeletionRequest, appealed_request)
                claim(colleague, appealed, claim_lease())
                decide(colleague, appealed, Decision.APPROVE,
                       "The second page of the chat shows the buyer linking to the rival shop.")
                db.session.commit()
                appeal_mail = db.session.scalar(select(Notification.id).where(
                    Notification.kind == NotificationKind.APPEAL_DECIDED))
            shoot("manager-email-appeal-decided", f"/notifications/{appeal_mail}", "manager")
            shoot("agent-signed-out-when-idle", "/queue", "agent", idle_out=True, phone=False)
            shoot("database-unavailable", "/queue", "agent", database_down=True, phone=False)
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
