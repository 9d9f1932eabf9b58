"""Officers and managers on the command line (issue 5, point 1): `hatereport officers
add|list|disable`, passwords hashed with argon2, contact details encrypted."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from intake.casework import verify_password
from intake.models import Officer
from tests.casework.helpers import PASSWORD
from tests.channels.helpers import raw_database
from tests.web.test_cli import TERMINAL_ANSWERS
from web.cli import main

PHONE = "+447700900888"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def add(email: str, *options: str, password: str = PASSWORD) -> Result:
    return run("officers", "add", "--name", email.split("@")[0].title(), "--email", email,
               "--password-stdin", *options, input=password + "\n")


def officers_json() -> list[dict]:
    result = run("officers", "list", "--json")
    assert result.exit_code == 0, result.output
    listed: list[dict] = json.loads(result.output)
    return listed


def stored(cli_env, email: str) -> Officer:
    engine = create_engine(f"sqlite:///{cli_env / 'cli.db'}")
    try:
        with Session(engine) as session:
            found = session.scalar(select(Officer).where(Officer.email == email))
            assert found is not None
            session.expunge(found)
            return found
    finally:
        engine.dispose()


def test_add_stores_an_argon2_hash_and_never_the_password_or_phone(cli_env):
    result = add("nia@landlord.example", "--areas", "Normanton,Abbey", "--phone", PHONE,
                 "--alerts", "sms", "--duty")
    assert result.exit_code == 0, result.output
    assert "added officer Nia <nia@landlord.example>" in result.output
    assert "alerts by sms" in result.output and "Normanton, Abbey" in result.output
    assert PASSWORD not in result.output
    officer = stored(cli_env, "nia@landlord.example")
    assert officer.password_hash.startswith("$argon2")
    assert verify_password(officer, PASSWORD)
    assert not verify_password(officer, PASSWORD + "!")
    assert officer.phone == PHONE  # decrypted by the ORM
    raw = raw_database(cli_env, "cli.db")
    assert PASSWORD.encode() not in raw
    assert PHONE.encode() not in raw and b"7700900888" not in raw
    assert b"$argon2" in raw


def test_add_asks_for_the_password_twice(cli_env):
    typed = "a long enough passphrase"
    result = run("officers", "add", "--name", "Ned", "--email", "ned@landlord.example",
                 input=f"{typed}\n{typed}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output
    assert typed not in result.output  # hidden input is not echoed
    assert verify_password(stored(cli_env, "ned@landlord.example"), typed)
    # Two different entries are asked again, not accepted.
    mismatch = run("officers", "add", "--name", "Ola", "--email", "ola@landlord.example",
                   input=f"{typed}\nsomething else entirely\n{typed}\n{typed}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower()
    assert verify_password(stored(cli_env, "ola@landlord.example"), typed)


def test_a_short_password_typed_twice_is_refused(cli_env):
    result = run("officers", "add", "--name", "Pat", "--email", "pat@landlord.example",
                 input="pw\npw\n")
    assert result.exit_code != 0
    assert "Repeat for confirmation" in result.output
    assert "at least 12 characters" in result.output
    assert officers_json() == []


def test_add_refuses_bad_details_with_a_clear_error(cli_env):
    assert add("nia@landlord.example", "--areas", "Normanton").exit_code == 0
    refusals = {
        "short password": (add("pat@landlord.example", password="short"),
                           "at least 12 characters"),
        "duplicate email": (add("NIA@landlord.example"), "already exists"),
        "unknown area": (add("pat@landlord.example", "--areas", "Normanton,Atlantis"),
                         "unknown area(s): Atlantis"),
        "sms without a phone": (add("pat@landlord.example", "--alerts", "sms"),
                                "SMS alerts need --phone"),
        "telegram without a chat": (add("pat@landlord.example", "--alerts", "telegram"),
                                    "Telegram alerts need --telegram-chat"),
        "bad phone": (add("pat@landlord.example", "--phone", "07700 900888"),
                      "international form"),
        "bad email": (add("not-an-email"), "not an email address"),
        "bad role": (add("pat@landlord.example", "--role", "boss"), "Invalid value"),
    }
    for what, (result, message) in refusals.items():
        assert result.exit_code != 0, what
        assert message in result.output, (what, result.output)
        assert "Traceback" not in result.output, what
    assert [entry["email"] for entry in officers_json()] == ["nia@landlord.example"]


def test_list_shows_areas_duty_alerts_role_and_open_cases(cli_env):
    add("nia@landlord.example", "--areas", "Normanton,Abbey")
    add("dee@landlord.example", "--duty", "--alerts", "telegram", "--telegram-chat", "4242")
    add("max@landlord.example", "--role", "manager")
    listed = {entry["email"]: entry for entry in officers_json()}
    assert listed["nia@landlord.example"] == {
        "name": "Nia", "email": "nia@landlord.example", "role": "officer",
        "areas": ["Normanton", "Abbey"], "duty": False, "alerts": "email", "active": True,
        "open_cases": 0}
    assert listed["dee@landlord.example"]["duty"] is True
    assert listed["dee@landlord.example"]["alerts"] == "telegram"
    assert listed["max@landlord.example"]["role"] == "manager"
    for entry in listed.values():
        assert not any(key in entry for key in ("password_hash", "phone", "telegram_chat"))
    text = run("officers", "list").output
    assert "nia@landlord.example" in text and "Normanton, Abbey" in text
    assert "manager" in text and "duty" in text


def test_open_cases_count_what_was_allocated(cli_env):
    add("ari@landlord.example", "--areas", "Arboretum")
    chat = run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    assert "Reference: HR-" in chat.output, chat.output[-500:]
    [entry] = officers_json()
    assert entry["open_cases"] == 1
    [case] = json.loads(run("cases", "list", "--json").output)
    shown = json.loads(run("cases", "show", case["reference"], "--json").output)
    assert shown["officer"] == {"name": "Ari", "email": "ari@landlord.example"}
    assert shown["allocated_at"] is not None
    assert [event["kind"] for event in shown["timeline"]][:2] == ["submitted", "allocated"]


def test_disable_stops_new_allocation(cli_env):
    add("ari@landlord.example", "--areas", "Arboretum")
    add("dee@landlord.example", "--duty")
    result = run("officers", "disable", "ari@landlord.example")
    assert result.exit_code == 0 and "disabled ari@landlord.example" in result.output
    listed = {entry["email"]: entry for entry in officers_json()}
    assert listed["ari@landlord.example"]["active"] is False
    assert "DISABLED" in run("officers", "list").output
    run("chat", input="\n".join(TERMINAL_ANSWERS) + "\n")
    [case] = json.loads(run("cases", "list", "--json").output)
    shown = json.loads(run("cases", "show", case["reference"], "--json").output)
    assert shown["where"]["area"] == "Arboretum"
    assert shown["officer"]["email"] == "dee@landlord.example"
    unknown = run("officers", "disable", "nobody@landlord.example")
    assert unknown.exit_code != 0 and "no officer with email" in unknown.output
