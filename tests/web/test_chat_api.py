"""The JSON chat API: the contract other front ends rely on."""

from __future__ import annotations

import re

import pytest

from intake.service import utcnow


def start(client):
    response = client.post("/api/chat", json={})
    assert response.status_code == 201
    return response.get_json()


def test_start_gives_an_unguessable_id_and_the_first_question(client):
    body = start(client)
    assert set(body) == {"conversation", "messages", "language"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", body["conversation"])  # 24 bytes = 192 bits
    assert body["conversation"] != start(client)["conversation"]
    last = body["messages"][-1]
    assert last["text"] == "Are you in danger right now?"
    assert last["choices"] == [{"label": "Yes", "value": "yes"}, {"label": "No", "value": "no"}]
    assert all(set(message) == {"text", "choices", "language"} for message in body["messages"])
    assert body["messages"][0]["language"] == {"code": "en", "direction": "ltr"}


def test_an_offer_in_another_language_says_which_and_the_menu_names_each(client):
    conversation = start(client)["conversation"]
    body = client.post(f"/api/chat/{conversation}",
                       json={"text": "میرا پڑوسی مجھے گالیاں دیتا ہے"}).get_json()
    assert body["language"] == {"code": "en", "direction": "ltr"}
    offer = body["messages"][-1]
    assert offer["language"] == {"code": "ur", "direction": "rtl"}
    keep = next(choice for choice in offer["choices"] if choice["value"] == "keep")
    assert keep == {"label": "English", "value": "keep",
                    "language": {"code": "en", "direction": "ltr"}}
    menu = client.post(f"/api/chat/{conversation}", json={"text": "menu"}).get_json()
    arabic = next(choice for choice in menu["messages"][-1]["choices"] if choice["value"] == "ar")
    assert arabic == {"label": "العربية", "value": "ar",
                      "language": {"code": "ar", "direction": "rtl"}}


def test_start_without_a_body_works(client):
    response = client.post("/api/chat")
    assert response.status_code == 201


def test_sending_a_choice_value_chooses_it(client):
    conversation = start(client)["conversation"]
    response = client.post(f"/api/chat/{conversation}", json={"text": "no"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"messages", "done", "reference", "language"}
    assert body["language"] == {"code": "en", "direction": "ltr"}
    assert body["done"] is False and body["reference"] is None
    assert body["messages"][-1]["text"] == "Who are you reporting as?"
    assert {"label": "I saw it happen", "value": "witness"} in body["messages"][-1]["choices"]


def test_get_resumes_at_the_current_question(client):
    conversation = start(client)["conversation"]
    client.post(f"/api/chat/{conversation}", json={"text": "no"})
    body = client.get(f"/api/chat/{conversation}").get_json()
    assert body["messages"][-1]["text"] == "Who are you reporting as?"
    assert body["done"] is False


def test_unknown_id_is_404_with_a_json_error(client):
    for path in ("/api/chat/" + "x" * 32, "/api/chat/not-valid!"):
        response = client.post(path, json={"text": "hi"})
        assert response.status_code == 404
        assert "error" in response.get_json()
    assert client.get("/api/chat/" + "y" * 32).status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"text": 5}', b"{}", b""])
def test_malformed_body_is_400_with_a_json_error(client, body):
    conversation = start(client)["conversation"]
    response = client.post(f"/api/chat/{conversation}", data=body,
                           content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_bad_start_body_is_400(client):
    response = client.post("/api/chat", data=b"[]", content_type="application/json")
    assert response.status_code == 400


def test_wrong_method_and_unknown_api_path_answer_json(client):
    response = client.delete("/api/chat")
    assert response.status_code == 405 and "error" in response.get_json()
    response = client.get("/api/nothing")
    assert response.status_code == 404 and "error" in response.get_json()


def test_full_report_over_the_api_gives_a_reference(client):
    conversation = start(client)["conversation"]
    answers = iter([])
    body = None
    for _ in range(80):
        last = (body or {"messages": [{"choices": [{"value": "no"}]}]})["messages"][-1]
        values = [choice["value"] for choice in last["choices"]]
        if "submit" in values:
            text = "submit"
        elif "done" in values:
            text = "done"
        elif values and values != ["skip"]:
            text = values[1] if values[:2] == ["yes", "no"] else values[0]
        else:
            text = next(answers, "Someone shouted at me in the car park.")
        body = client.post(f"/api/chat/{conversation}", json={"text": text}).get_json()
        if body["done"]:
            break
    assert body["done"] is True
    assert re.fullmatch(r"HR-[A-Z0-9]{4}-[A-Z0-9]{4}", body["reference"])
    assert body["reference"] in body["messages"][-1]["text"]


def test_page_is_served_with_no_cookies_and_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://cdn" not in html


def test_expired_conversation_is_404(app, client):
    conversation = start(client)["conversation"]
    service = app.extensions["hatereport"].intake
    later = utcnow()
    service.clock = lambda: later.replace(year=later.year + 1)
    assert client.post(f"/api/chat/{conversation}", json={"text": "no"}).status_code == 404


def test_lone_surrogates_and_control_characters_do_not_break_a_turn(client):
    conversation = start(client)["conversation"]
    for text in ("no", "victim", "anonymous"):
        client.post(f"/api/chat/{conversation}", json={"text": text})
    body = '{"text": "broken \\ud83d surrogate \\u0000 and \\u001b[31m escape"}'
    response = client.post(f"/api/chat/{conversation}", data=body,
                           content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["messages"][-1]["text"].startswith("Which of these happened?")


def test_unhandled_errors_are_logged_without_the_conversation_id(app, client, caplog):
    conversation = start(client)["conversation"]
    service = app.extensions["hatereport"].intake

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    service.engine.handle = broken
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(f"/api/chat/{conversation}", json={"text": "secret words"})
    assert response.status_code == 500 and "error" in response.get_json()
    assert "unhandled error in POST chat.send" in caplog.text
    assert conversation not in caplog.text and "secret words" not in caplog.text


def test_a_retried_message_is_answered_again_but_applied_once(client):
    conversation = start(client)["conversation"]
    first = client.post(f"/api/chat/{conversation}",
                        json={"text": "no", "id": "retry-id-000000000001"}).get_json()
    again = client.post(f"/api/chat/{conversation}",
                        json={"text": "no", "id": "retry-id-000000000001"}).get_json()
    assert again == first
    assert first["messages"][-1]["text"] == "Who are you reporting as?"
    # A new id moves on as usual.
    body = client.post(f"/api/chat/{conversation}",
                       json={"text": "victim", "id": "retry-id-000000000002"}).get_json()
    assert body["messages"][-1]["text"].startswith("Do you want to give your name")


def test_a_malformed_message_id_is_400(client):
    conversation = start(client)["conversation"]
    for bad in (5, "short", "x" * 65, "bad id with spaces!!"):
        response = client.post(f"/api/chat/{conversation}", json={"text": "no", "id": bad})
        assert response.status_code == 400
