"""Property: any sequence of messages never raises and never loses a stored answer."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.flow import STEPS
from intake.models import Conversation

CHOICE_VALUES = sorted({choice.value for step in STEPS for choice in step.choices})
WORDS = ["yes", "no", "skip", "done", "back", "help", "/language", "stop", "/stop", "submit",
         "edit", "restart", "Restart!", "/restart", "1\u00b9", "\u00b2", "\u0663",
         "edit:description", "review", "1", "2", "3", "1 3", "0", "99", "en", "English"]
AWKWARD = st.sampled_from([
    "", " ", "\x00\x07\x1b[31m", "\u202eevil\u202c", "\u0645\u0631\u062d\u0628\u0627",
    "\u200f\u05e9\u05dc\u05d5\u05dd", "a" * 5000, "x" * 120_000, "\ud7ff\ufeff", "\n\n\t",
    "I called 999", "😀" * 50, "lone \ud83d surrogate", "\udfff",
])
MESSAGES = st.one_of(
    st.sampled_from(CHOICE_VALUES + WORDS),
    AWKWARD,
    st.text(max_size=300),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(messages=st.lists(MESSAGES, max_size=30))
def test_random_messages_never_raise_or_lose_answers(service, messages):
    conversation_id = service.start("web").conversation_id
    for text in messages:
        with service.sessions() as session:
            before = session.get(Conversation, conversation_id)
            asked, answers_before = before.step, dict(before.answers)
            status_before, mode_before = before.status, before.mode
        turn = service.send(conversation_id, text)
        assert turn.result.replies, "every message gets a reply"
        assert all(reply.text for reply in turn.result.replies)
        with service.sessions() as session:
            after = session.get(Conversation, conversation_id)
            answers_after = dict(after.answers)
        if status_before == "submitted" or after.status == "submitted":
            continue
        if mode_before == "confirm_restart":
            if text.strip().casefold() in ("yes", "y", "yeah", "yep", "yup", "1"):
                assert answers_after == {}
                continue
        for key, value in answers_before.items():
            if key.startswith("_") or key == asked or (key == "area" and asked == "place"):
                continue
            assert answers_after.get(key, "<lost>") == value, f"{key} lost after {text[:40]!r}"
