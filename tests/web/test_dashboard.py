"""The officer dashboard over HTTP: sign-in, CSRF, who sees what, the audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from intake.casework import add_officer
from intake.db import transaction
from intake.models import AuditEntry, Case
from web import create_app
from web.extensions import services

from ..intake.test_engine import NAMED, drive

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path, data_key, clock):
    from ..conftest import HASH_KEY

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dash.db'}",
        "DATA_KEY": data_key,
        "HASH_KEY": HASH_KEY,
        "SESSION_COOKIE_SECURE": False,
        "PUBLIC_URL": "https://report.example.org",
    })
    services(app).intake.clock = clock
    the = services(app)
    with transaction(the.sessions) as session:
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password=PASSWORD, now=clock(), areas=["Normanton"])
        add_officer(session, name="Ned Other", email="ned@landlord.example",
                    password=PASSWORD, now=clock(), areas=["Sinfin"], duty=True)
        add_officer(session, name="Mina Manager", email="mina@landlord.example",
                    password=PASSWORD, now=clock(), role="manager")
    yield app
    the.db.dispose()


def submit_case(app) -> str:
    service = services(app).intake
    conversation_id = drive(service, NAMED)
    return service.send(conversation_id, "submit").result.reference


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


def test_cases_need_signing_in(app):
    client = app.test_client()
    reference = submit_case(app)
    response = client.get(f"/cases/{reference}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_form_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"email": "olive@landlord.example",
                                           "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/cases").status_code == 302  # not signed in


def test_wrong_passwords_are_refused_and_repeated_failures_lock_the_address(app):
    client = app.test_client()
    page = sign_in(client, "olive@landlord.example", "wrong password!!").get_data(as_text=True)
    assert "do not match" in page
    for _ in range(5):
        sign_in(client, "olive@landlord.example", "wrong password!!")
    page = sign_in(client, "olive@landlord.example").get_data(as_text=True)
    assert "Too many failed attempts" in page


@pytest.fixture
def two_processes(db_url, data_key, clock):
    """Two web processes on one database (an SQLite file, or PostgreSQL), as gunicorn's
    workers are, with Olive's account."""
    from ..conftest import HASH_KEY

    apps = [create_app({"TESTING": True, "DATABASE_URL": db_url, "DATA_KEY": data_key,
                        "HASH_KEY": HASH_KEY, "SESSION_COOKIE_SECURE": False})
            for _ in range(2)]
    the = services(apps[0])
    if the.db.dialect.name == "postgresql":
        with the.db.begin() as connection:
            connection.execute(text(
                "TRUNCATE officers, attempts, audit_log RESTART IDENTITY CASCADE"))
    for app in apps:
        services(app).intake.clock = clock
    with transaction(the.sessions) as session:
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password=PASSWORD, now=clock(), areas=["Normanton"])
    yield apps
    for app in apps:
        services(app).db.dispose()


def test_failed_sign_ins_lock_an_address_in_every_process_known_or_not(two_processes,
                                                                      clock):
    first, second = (app.test_client() for app in two_processes)
    for email in ("olive@landlord.example", "nobody@landlord.example"):
        typed = [email, email.upper(), f" {email} ", email, email]
        for client, address in zip((first, second, first, second, first), typed,
                                   strict=True):
            page = sign_in(client, address, "wrong password!!").get_data(as_text=True)
            assert "do not match" in page and "Too many" not in page
    # The sixth try, in either process, is refused alike for a known and an unknown
    # address (the right password too): nothing tells which addresses have accounts.
    pages = [re.sub(r'name="csrf_token" value="[^"]+"', "",
                    sign_in(client, email).get_data(as_text=True)).replace(email, "EMAIL")
             for client in (second, first)
             for email in ("olive@landlord.example", "nobody@landlord.example")]
    assert "Too many failed attempts" in pages[0] and len(set(pages)) == 1
    # A restarted process refuses too; after 15 minutes the address may try again.
    restarted = create_app({**two_processes[0].config, "TESTING": True})
    services(restarted).intake.clock = clock
    assert "Too many" in sign_in(restarted.test_client(), "olive@landlord.example").get_data(
        as_text=True)
    services(restarted).db.dispose()
    clock.advance(minutes=15, seconds=1)
    assert sign_in(second, "olive@landlord.example").status_code == 302


def test_an_officer_sees_their_case_and_every_read_is_audited(app):
    reference = submit_case(app)  # Normanton: Olive's patch
    client = app.test_client()
    assert sign_in(client, "olive@landlord.example").status_code == 302
    listing = client.get("/cases").get_data(as_text=True)
    assert reference in listing
    page = client.get(f"/cases/{reference}").get_data(as_text=True)
    assert NAMED["description"].replace("'", "&#39;") in page
    assert "Olive Officer" in page and "escalates to managers" in page
    with services(app).sessions() as session:
        actions = [(entry.action, entry.case.reference if entry.case else None)
                   for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("view_case", reference) in actions and ("sign_in", None) in actions


def test_another_officer_gets_a_404_and_the_attempt_is_audited(app):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "ned@landlord.example")
    assert reference not in client.get("/cases").get_data(as_text=True)
    assert client.get(f"/cases/{reference}").status_code == 404
    with services(app).sessions() as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).all()
        assert [entry.data["reason"] for entry in denied] == ["not their case"]


def test_a_manager_sees_every_case_and_the_audit_log(app):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "mina@landlord.example")
    assert reference in client.get("/cases").get_data(as_text=True)
    assert client.get(f"/cases/{reference}").status_code == 200
    log = client.get("/audit").get_data(as_text=True)
    assert "view case" in log and reference in log
    officer = app.test_client()
    sign_in(officer, "olive@landlord.example")
    assert officer.get("/audit").status_code == 403


def test_acknowledging_stops_the_escalation_clock(app, clock):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    page = client.get(f"/cases/{reference}").get_data(as_text=True)
    response = client.post(f"/cases/{reference}/acknowledge", data={"csrf_token": csrf(page)})
    assert response.status_code == 302
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.acknowledged_at == clock()
    clock.advance(days=3)
    with transaction(services(app).sessions) as session:
        assert services(app).casework.escalate_due(session, clock()) == 0


def test_the_session_ends_after_the_idle_timeout(app):
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    cookie = client.get_cookie("hatereport_staff")
    assert cookie is not None and cookie.http_only
    assert app.permanent_session_lifetime.total_seconds() == 30 * 60
    assert cookie.expires is not None  # a permanent session: it lapses, refreshed per request


def test_signing_out_needs_the_form_and_ends_the_session(app):
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    page = client.get("/cases").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf(page)}).status_code == 302
    assert client.get("/cases").status_code == 302


def test_the_web_chat_still_sets_no_cookie(app):
    client = app.test_client()
    client.get("/")
    client.post("/api/chat", json={})
    assert client.get_cookie("hatereport_staff") is None


def post_form(client, reference: str, path: str, **fields):
    page = client.get(f"/cases/{reference}").get_data(as_text=True)
    response = client.post(f"/cases/{reference}/{path}",
                           data={"csrf_token": csrf(page), **fields}, follow_redirects=True)
    return response.get_data(as_text=True)


def timeline(app, reference: str) -> list[dict]:
    from intake.cases import case_to_dict

    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        return case_to_dict(case)["timeline"]


def test_a_referral_needs_consent_on_record_or_a_safeguarding_reason(app):
    reference = submit_case(app)  # NAMED told the police already; said yes to Stop Hate UK
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    page = post_form(client, reference, "actions", kind="referral", to="police",
                     basis="consent")
    assert "Not recorded: no consent to this referral is on record" in page
    page = post_form(client, reference, "actions", kind="referral", to="social_care",
                     basis="safeguarding")
    assert "write the safeguarding reason" in page
    post_form(client, reference, "actions", kind="referral", to="stop_hate_uk",
              basis="consent")
    post_form(client, reference, "actions", kind="referral", to="social_care",
              basis="safeguarding", note="Children in the home were threatened.")
    referrals = [event for event in timeline(app, reference) if event["kind"] == "referral"]
    assert [(event["to"], event["basis"], event["consent_in_report"]) for event in referrals] == [
        ("stop_hate_uk", "consent", True), ("social_care", "safeguarding", False)]
    assert referrals[1]["text"] == "Children in the home were threatened."


def test_a_risk_assessment_uses_the_matrix_and_is_kept_per_review(app, clock):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    review = (clock().date() + timedelta(days=28)).isoformat()
    post_form(client, reference, "actions", kind="risk", likelihood="4", impact="4",
              review=review)
    page = post_form(client, reference, "actions", kind="risk", likelihood="2", impact="2",
                     review=review)
    assert "Current rating: <strong>low</strong>" in page
    risks = [event for event in timeline(app, reference) if event["kind"] == "risk_assessment"]
    assert [(event["score"], event["rating"]) for event in risks] == [(16, "very_high"),
                                                                       (4, "low")]
    page = post_form(client, reference, "actions", kind="risk", likelihood="6", impact="1",
                     review=review)
    assert "Not recorded: likelihood and impact are each 1 to 5" in page


def test_contact_support_and_legal_action_go_on_the_timeline(app):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    post_form(client, reference, "actions", kind="contact", method="phone",
              note="Called; agreed a visit on Monday.")
    post_form(client, reference, "actions", kind="support", support="target_hardening",
              note="Door chain and outside light.")
    post_form(client, reference, "actions", kind="legal", legal="injunction")
    kinds = [event["kind"] for event in timeline(app, reference)]
    assert kinds[-3:] == ["contact", "support_offered", "legal_action"]


def test_closing_records_the_victims_view_and_stops_updates(app, clock):
    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "olive@landlord.example")
    page = post_form(client, reference, "close", outcome="resolved")
    assert "Not closed: choose the victim" in page
    post_form(client, reference, "close", outcome="resolved", victim_view="satisfied")
    event = timeline(app, reference)[-1]
    assert (event["kind"], event["outcome"], event["victim_view"]) == (
        "closed", "resolved", "satisfied")
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.status == "closed" and case.next_update_due_at is None
    page = post_form(client, reference, "actions", kind="legal", legal="injunction")
    assert "Record an action" not in page


def test_a_manager_reallocates_with_a_reason_and_the_new_officer_is_alerted(app):
    from intake.models import Officer, OutboxMessage

    reference = submit_case(app)
    manager = app.test_client()
    sign_in(manager, "mina@landlord.example")
    with services(app).sessions() as session:
        ned = session.scalar(select(Officer).where(Officer.email == "ned@landlord.example"))
    page = post_form(manager, reference, "reallocate", officer=str(ned.id), reason="")
    assert "Not reallocated: say why" in page
    post_form(manager, reference, "reallocate", officer=str(ned.id),
              reason="The reporter asked for a different officer.")
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.officer_id == ned.id and case.acknowledged_at is None
        alerts = session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "alert")).all()
        assert any(row.recipient == "ned@landlord.example" for row in alerts)
    officer = app.test_client()
    sign_in(officer, "olive@landlord.example")
    assert officer.post(f"/cases/{reference}/reallocate", data={}).status_code in (400, 403,
                                                                                   404)


def test_managers_see_dead_letters_without_their_words(app, clock):
    from intake.outbox import enqueue

    with transaction(services(app).sessions) as session:
        message = enqueue(session, "sms", "+447700900321", {"text": "private words"},
                          "update", clock())
        message.status, message.attempts, message.last_error = "dead", 20, "twilio HTTP 400"
    client = app.test_client()
    sign_in(client, "mina@landlord.example")
    page = client.get("/outbox").get_data(as_text=True)
    assert "twilio HTTP 400" in page and "dead: 1" in page
    assert "private words" not in page and "+447700900321" not in page
    officer = app.test_client()
    sign_in(officer, "olive@landlord.example")
    assert officer.get("/outbox").status_code == 403


def test_a_closed_case_takes_no_update_and_no_reallocation(app):
    from intake.models import Officer

    reference = submit_case(app)
    client = app.test_client()
    sign_in(client, "mina@landlord.example")
    post_form(client, reference, "close", outcome="resolved", victim_view="satisfied")
    page = post_form(client, reference, "update", update="Anything else?")
    assert "The case is closed: nothing more goes to the reporter." in page
    assert "Write an update for the reporter" not in page
    with services(app).sessions() as session:
        ned = session.scalar(select(Officer).where(Officer.email == "ned@landlord.example"))
    page = post_form(client, reference, "reallocate", officer=str(ned.id), reason="Workload")
    assert "Not reallocated: the case is closed" in page


def test_an_unknown_email_costs_the_same_password_check():
    from intake.casework import verify_password

    assert verify_password(None, PASSWORD) is False
