"""Personal data stays out of logs and is never stored in clear."""

from __future__ import annotations

import logging
import os
import stat

from cryptography.fernet import Fernet
from sqlalchemy import text

from intake import crypto
from web import create_app

CANARY = "Zebracanary-7731"


def drive_report_with_canary(client) -> str:
    conversation = client.post("/api/chat", json={}).get_json()["conversation"]
    script = {
        "Are you in danger right now?": "no",
        "Who are you reporting as?": "victim",
        "Do you want to give your name, or stay anonymous?": "named",
        "What name should we use for you?": f"Name {CANARY}",
        "What happened? Tell us": f"My neighbour {CANARY} shouted at me.",
        "When did it happen?": f"Tuesday, when {CANARY} came home",
        "Where did it happen?": "home",
        "What is the address": f"1 {CANARY} Road, Sinfin",
        "What would you like to happen now?": f"{CANARY} to stop",
        "How should your officer contact you?": "email",
        "What phone number or email address": f"{CANARY}@example.org",
        "When is it safe to contact you?": f"{CANARY} evenings",
        "What is the police crime reference number?": f"CR-{CANARY}",
    }
    body = {"messages": [{"text": "Are you in danger right now?", "choices": []}]}
    for _ in range(80):
        last = body["messages"][-1]
        values = [choice["value"] for choice in last["choices"]]
        reply = next((answer for prompt, answer in script.items()
                      if last["text"].startswith(prompt)), None)
        if reply is None:
            if "submit" in values:
                reply = "submit"
            elif "done" in values:
                reply = "done"
            elif "reported" in values:
                reply = "reported"
            else:
                reply = values[0]
        body = client.post(f"/api/chat/{conversation}", json={"text": reply}).get_json()
        if body["done"]:
            return body["reference"]
    raise AssertionError("report not submitted")


def test_canary_is_absent_from_logs_and_from_the_raw_database(app, client, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    reference = drive_report_with_canary(client)
    # An abandoned conversation with the canary, still in progress, too.
    other = client.post("/api/chat", json={}).get_json()["conversation"]
    for reply in ("no", "victim", "anonymous", f"Abandoned {CANARY} story"):
        client.post(f"/api/chat/{other}", json={"text": reply})
    db = app.extensions["hatereport"].db
    with db.connect() as connection:
        description = connection.execute(
            text("SELECT description FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()
    assert CANARY not in description and description.startswith("gAAAA")  # a Fernet token
    assert CANARY not in caplog.text
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("app.db*"))
    assert raw, "the database files exist"
    assert CANARY.encode() not in raw
    assert CANARY.encode("utf-16-le") not in raw
    # ...and the application itself can still read it back.
    db.dispose()
    raw_after_checkpoint = (tmp_path / "app.db").read_bytes()
    assert CANARY.encode() not in raw_after_checkpoint


def test_case_fields_decrypt_for_the_application(app, client):
    reference = drive_report_with_canary(client)
    from intake.cases import get_case

    with app.extensions["hatereport"].sessions() as session:
        case = get_case(session, reference)
        assert case.description == f"My neighbour {CANARY} shouted at me."
        assert case.contact_details == f"{CANARY}@example.org"
        assert case.crime_reference == f"CR-{CANARY}"


def test_embedded_default_generates_a_private_key_file(tmp_path, monkeypatch):
    key_file = tmp_path / "var" / "data.key"
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'x.db'}",
                "DATA_KEY_FILE": str(key_file), "HASH_KEY_FILE": str(tmp_path / "var" / "h.key")}
    app = create_app(settings)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "var" / "h.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "var").st_mode) == 0o700
    for path in (tmp_path / "var").glob("x.db*"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    key = key_file.read_text().strip()
    Fernet(key.encode())  # a valid key
    app.extensions["hatereport"].db.dispose()
    # A second start reuses it rather than making a new one.
    app = create_app(settings)
    assert key_file.read_text().strip() == key
    app.extensions["hatereport"].db.dispose()


def test_another_database_needs_an_explicit_key(tmp_path):
    import pytest

    with pytest.raises(RuntimeError, match="HATEREPORT_DATA_KEY"):
        create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1/none"})


def test_keys_rotate_old_values_still_open_and_hashes_still_match(data_key):
    from tests.conftest import HASH_KEY

    old_token = crypto.seal("kept secret")
    old_hash = crypto.keyed_hash("HR-ABCD-EFGH:CODE")
    new_key = Fernet.generate_key().decode()
    crypto.configure(f"{new_key},{data_key}", HASH_KEY)
    assert crypto.open_sealed(old_token) == "kept secret"
    assert crypto.open_sealed(crypto.seal("again")) == "again"
    assert crypto.keyed_hash("HR-ABCD-EFGH:CODE") == old_hash


def test_keyed_hash_hides_the_identity(data_key):
    digest = crypto.keyed_hash("+447700900123")
    assert "447700900123" not in digest and len(digest) == 64
    assert digest == crypto.keyed_hash("+447700900123")
