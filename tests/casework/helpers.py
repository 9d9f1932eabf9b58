"""What the casework tests share: a report driven through the intake service, officers
added as the command does, and ways to read a case back."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from intake.cases import case_to_dict, get_case
from intake.casework import add_officer
from intake.db import transaction
from intake.flow import REVIEW_STEP
from intake.models import Case, Conversation, Officer, OutboxMessage
from tests.intake.test_engine import NAMED
from web.extensions import services

PASSWORD = "correct horse battery staple"

#: A named victim's report, as they would type it (the engine's own test script), in an
#: area given by name. Every special-category and personal detail is here so that a test
#: can check none of it reaches an officer's alert.
SCRIPT: dict[str, str] = {**NAMED, "area": "Normanton"}

MULTI_STEPS = ("behaviours", "characteristics", "perpetrator", "support")


def _step(app: Flask, conversation_id: str) -> Conversation:
    with services(app).sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation


def report(app: Flask, **changes: str) -> tuple[str, str]:
    """Submit a report through the intake service as the web chat does; returns the
    conversation id and the case reference."""
    script = {**SCRIPT, **changes}
    intake = services(app).intake
    conversation_id = intake.start("web").conversation_id
    for _ in range(80):
        step = _step(app, conversation_id).step
        if step == REVIEW_STEP:
            break
        intake.send(conversation_id, script[step])
        if step in MULTI_STEPS and _step(app, conversation_id).step == step:
            intake.send(conversation_id, "done")
    else:
        raise AssertionError("the report did not reach the review")
    turn = intake.send(conversation_id, "submit")
    assert turn.result.done and turn.result.reference, turn.result
    return conversation_id, turn.result.reference


def urgent_report(app: Flask, **changes: str) -> str:
    """A report whose reporter is in danger right now."""
    return report(app, safety="yes", **changes)[1]


def officer(app: Flask, name: str, email: str, **details: Any) -> int:
    """Add an officer (or manager) as ``hatereport officers add`` does; returns the id."""
    the = services(app)
    with transaction(the.sessions) as session:
        added = add_officer(session, name=name, email=email, password=PASSWORD,
                            now=the.intake.clock(), **details)
        return added.id


def case_json(app: Flask, reference: str) -> dict[str, Any]:
    """The case as ``hatereport cases show --json`` prints it (decrypted)."""
    with services(app).sessions() as session:
        case = get_case(session, reference)
        assert case is not None
        return case_to_dict(case)


def officer_of(app: Flask, reference: str) -> str | None:
    """The email of the case's officer, or None while unallocated."""
    found = case_json(app, reference)["officer"]
    return None if found is None else str(found["email"])


def kinds(app: Flask, reference: str) -> list[str]:
    """The case's timeline, as event kinds."""
    return [event["kind"] for event in case_json(app, reference)["timeline"]]


def outbox(app: Flask) -> list[OutboxMessage]:
    with services(app).sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def alerts(app: Flask) -> list[OutboxMessage]:
    return [row for row in outbox(app) if row.purpose == "alert"]


def case_row(app: Flask, reference: str) -> Case:
    with services(app).sessions() as session:
        case = get_case(session, reference)
        assert case is not None
        return case


def officer_id(app: Flask, email: str) -> int:
    with services(app).sessions() as session:
        found = session.scalar(select(Officer.id).where(Officer.email == email))
        assert found is not None
        return int(found)


def deliver_all(app: Flask, passes: int = 50) -> int:
    """Run the outbox until nothing more is due now; returns how many were sent."""
    sent = 0
    for _ in range(passes):
        done = services(app).outbox.deliver_due()
        sent += done.sent
        if not (done.sent or done.retrying or done.dead or done.held):
            return sent
    raise AssertionError("the outbox kept finding work")


# -- the dashboard ----------------------------------------------------------------------


def csrf(page: str) -> str:
    """The CSRF token of a dashboard page's form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def signed_in(app: Flask, email: str) -> FlaskClient:
    """A test client signed in to the dashboard as ``email``."""
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    return client


def post_form(client: FlaskClient, reference: str, path: str, **fields: str) -> str:
    """Post a case view's form as an officer would; returns the page it leads to."""
    page = client.get(f"/cases/{reference}").get_data(as_text=True)
    return client.post(f"/cases/{reference}/{path}", data={"csrf_token": csrf(page), **fields},
                       follow_redirects=True).get_data(as_text=True)


# -- query plans ------------------------------------------------------------------------


def statement_of(app: Flask, needle: str, action: Callable[[], object]) -> tuple[str, Any]:
    """The first SQL statement containing ``needle`` that ``action`` runs, with its
    parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        if needle in statement:
            seen.append((statement, parameters))

    engine = services(app).db
    event.listen(engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen, f"no statement with {needle!r} was run"
    return seen[0]


def query_plan(app: Flask, statement: str, parameters: Any, like: str,
               **differences: Any) -> str:
    """How the database would run ``statement``. PostgreSQL plans by statistics, so
    there it is planned beside 5,000 copies of case ``like`` with ``differences`` (a busy
    service's cases that the query must not read), rolled back after."""
    engine = services(app).db
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
        copied = [column.name for column in Case.__table__.columns
                  if column.name not in ("id", "reference", *differences)]
        values = ", ".join([*copied, *(f":{name}" for name in differences)])
        connection.execute(text(
            f"INSERT INTO cases ({', '.join([*copied, *differences])}, reference) "
            f"SELECT {values}, 'HR-' || g FROM cases, generate_series(1, 5000) AS g "
            "WHERE cases.reference = :like"), {**differences, "like": like})
        connection.exec_driver_sql("ANALYZE cases")
        plan = " ".join(str(row[0]) for row in connection.exec_driver_sql(
            f"EXPLAIN {statement}", parameters))
        connection.rollback()
        return plan
