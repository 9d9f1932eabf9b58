"""What officers and managers write on a case (a reason for reallocating, a note on
contact, a closing note) is encrypted at rest like the reporter's words, and still shown
on the timeline; reasons stored in clear by older versions are sealed by the migration."""

from __future__ import annotations

from sqlalchemy import select, text

from intake.cases import case_to_dict, create_case, open_case_for_identity
from intake.casework import add_officer
from intake.db import migrate, transaction
from intake.models import Case, CaseEvent
from intake.outbox import identity_hash
from tests.casework.helpers import (
    PASSWORD,
    case_json,
    officer,
    officer_id,
    post_form,
    report,
    signed_in,
)
from tests.channels.conftest import TABLES
from tests.channels.helpers import NAMED, raw_database
from web.extensions import services

REASON = "The reporter asked for a woman officer after the visit on Tuesday."
CONTACT_NOTE = "Spoke on the phone; agreed a visit with an interpreter."
CLOSING_NOTE = "Perpetrator moved out; the reporter feels safe again."


def test_a_reallocation_reason_and_officers_notes_are_encrypted_and_shown(app, tmp_path,
                                                                         clock):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Ola Other", "ola@landlord.example", areas=["Sinfin"])
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    _, reference = report(app)
    manager = signed_in(app, "max@landlord.example")
    page = post_form(manager, reference, "reallocate",
                     officer=str(officer_id(app, "ola@landlord.example")), reason=REASON)
    assert "Reallocated" in page
    assert f"(reallocated: {REASON})" in page  # the timeline shows the manager's words
    ola = signed_in(app, "ola@landlord.example")
    post_form(ola, reference, "actions", kind="contact", method="phone", note=CONTACT_NOTE)
    page = post_form(ola, reference, "close", outcome="resolved", victim_view="satisfied",
                     note=CLOSING_NOTE)
    assert "The case is closed." in page and CLOSING_NOTE in page and CONTACT_NOTE in page

    timeline = case_json(app, reference)["timeline"]
    reallocated = [event for event in timeline if event["kind"] == "allocated"][-1]
    assert reallocated["reason"] == "reallocated"
    assert reallocated["text"] == REASON
    assert reallocated["officer"] == "max@landlord.example"
    assert reallocated["to"] == officer_id(app, "ola@landlord.example")
    # Nothing anyone wrote is in an event's data (stored in clear).
    with services(app).sessions() as session:
        for event in session.scalars(select(CaseEvent)):
            for value in event.data.values():
                assert not (isinstance(value, str) and any(
                    words in value for words in (REASON, CONTACT_NOTE, CLOSING_NOTE)))
    raw = raw_database(tmp_path, "app.db")
    for words in (REASON, "woman officer", CONTACT_NOTE, "agreed a visit", CLOSING_NOTE,
                  "moved out"):
        assert words.encode() not in raw, words


def test_the_migration_seals_old_reasons_and_trusts_no_typed_mobile(db, sessions, clock):
    """A database written by 0.1 (the reason in the event's data; no hash of the mobile
    given for texts) is brought up to date on upgrade: the reasons sealed, and no mobile
    taken as the reporter's from what they typed (only an update texted there does)."""
    if db.dialect.name == "postgresql":  # shared by the run: start from empty tables
        with db.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    with transaction(sessions) as session:
        manager = add_officer(session, name="Max", email="max@landlord.example",
                              password=PASSWORD, now=clock(), role="manager")
        case, _ = create_case(session, answers=dict(NAMED), channel="web", language="en",
                              urgent=False, now=clock())
        session.add_all([
            CaseEvent(case_id=case.id, at=clock(), kind="allocated", officer_id=None,
                      data={"to": manager.id, "reason": "covers Normanton"}),
            CaseEvent(case_id=case.id, at=clock(), kind="allocated", officer_id=manager.id,
                      data={"to": manager.id, "reason": f"reallocated: {REASON}"}),
        ])
        reference = case.reference
        # A reporter who gave a mobile for texts, never yet texted there.
        texting, _ = create_case(session, answers={**NAMED, "contact_method": "text",
                                                   "contact_details": "07700 900456"},
                                 channel="web", language="en", urgent=False, now=clock())
        texting_reference = texting.reference
    mobile = identity_hash("sms", "+447700900456")
    with sessions() as session:
        assert open_case_for_identity(session, mobile) is None
    migrate(db, "0003", down=True)
    migrate(db)
    migrate(db)  # and again: nothing more to do
    with sessions() as session:
        found = session.scalar(select(Case).where(Case.reference == reference))
        assert found is not None
        events = case_to_dict(found)["timeline"]
    assert [(event["reason"], event["text"]) for event in events] == [
        ("covers Normanton", None), ("reallocated", REASON)]
    with db.connect() as connection:
        stored = [str(row[0]) + str(row[1]) for row in connection.execute(
            text("SELECT data, text FROM case_events"))]
    assert not any("woman officer" in row for row in stored)
    with sessions() as session:
        # Not backfilled: a mistyped or shared number would hand a stranger the case.
        assert open_case_for_identity(session, mobile) is None
        texting_case = session.scalar(select(Case).where(Case.reference == texting_reference))
        assert texting_case is not None and texting_case.contact_identity_hash is None
