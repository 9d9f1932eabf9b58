"""The engine through every branch, without a browser."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from intake.cases import case_to_dict, followup_code_matches, get_case
from intake.engine import Engine
from intake.flow import (
    FIRST_STEP,
    REVIEW_STEP,
    STEPS,
    AnswerType,
    FlowError,
    Step,
    check_flow,
)
from intake.languages import codes
from intake.models import Case, Conversation
from intake.service import ConversationNotFound, IntakeService

# What a named victim answers at each step, as they would type it.
NAMED = {
    "safety": "no",
    "role": "It happened to me",
    "anonymous": "1",
    "name": "Sam Example",
    "description": "Two men shouted abuse about my religion and kicked my door.",
    "behaviours": "verbal_abuse, property_damage",
    "characteristics": "religion",
    "when": "yesterday",
    "where_type": "home",
    "place": "12 Example Street, Normanton",
    "area": "1",
    "repeated": "yes",
    "perpetrator": "known resident",
    "injuries": "no",
    "vulnerable": "no",
    "police": "reported",
    "crime_reference": "CR/123/26",
    "stop_hate": "yes",
    "support": "1 2",
    "platform": "An app",
    "outcome": "I want it to stop.",
    "contact_method": "phone",
    "contact_details": "07700 900123",
    "contact_times": "weekdays after 6pm",
    "leave_messages": "no",
}


def script_reaching(step: str) -> dict[str, str]:
    """The named script, changed so that ``step`` is on the path."""
    script = dict(NAMED)
    if step == "platform":
        script["where_type"] = "online"
    if step == "area":
        script["place"] = "somewhere"
    return script


def step_of(service: IntakeService, conversation_id: str) -> str:
    with service.sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.step


def answers_of(service: IntakeService, conversation_id: str) -> dict:
    with service.sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return dict(conversation.answers)


def drive(service: IntakeService, script: dict[str, str], conversation_id: str | None = None,
          until: str = REVIEW_STEP) -> str:
    """Answer each question from ``script`` until the conversation reaches ``until``."""
    if conversation_id is None:
        conversation_id = service.start("web").conversation_id
    for _ in range(60):
        step = step_of(service, conversation_id)
        if step == until:
            return conversation_id
        service.send(conversation_id, script[step])
        if step_of(service, conversation_id) == step and step in ("behaviours", "characteristics",
                                                                  "perpetrator", "support"):
            service.send(conversation_id, "done")
    raise AssertionError("conversation did not reach " + until)


def submit(service: IntakeService, conversation_id: str):
    return service.send(conversation_id, "submit")


def test_flow_table_is_checked_for_broken_targets_and_unreachable_steps():
    broken = (
        Step("a", AnswerType.TEXT, "A?", "A", next="nowhere"),
        Step("z", AnswerType.REVIEW, "Z", "Z", next=None),
    )
    with pytest.raises(FlowError, match="nowhere"):
        check_flow(broken, "a", "z")
    unreachable = (
        Step("a", AnswerType.TEXT, "A?", "A", next="z"),
        Step("b", AnswerType.TEXT, "B?", "B", next="z"),
        Step("z", AnswerType.REVIEW, "Z", "Z", next=None),
    )
    with pytest.raises(FlowError, match="unreachable steps: b"):
        check_flow(unreachable, "a", "z")
    dead_end = (
        Step("a", AnswerType.TEXT, "A?", "A", next=None),
        Step("z", AnswerType.REVIEW, "Z", "Z", next=None),
    )
    with pytest.raises(FlowError, match="dead end"):
        check_flow(dead_end, "a", "z")
    check_flow(STEPS, FIRST_STEP, REVIEW_STEP)


def test_every_kind_of_answer_is_declared():
    kinds = {step.kind for step in STEPS}
    assert {AnswerType.YES_NO, AnswerType.CHOICE, AnswerType.MULTI, AnswerType.TEXT,
            AnswerType.TIME, AnswerType.PLACE, AnswerType.REVIEW} <= kinds


def test_named_report_end_to_end_gives_a_structured_case(service, clock):
    conversation_id = drive(service, NAMED)
    turn = submit(service, conversation_id)
    assert turn.result.done
    reference = turn.result.reference
    assert reference and reference.startswith("HR-")
    assert reference in turn.result.replies[-1].text
    assert turn.result.followup_code is None
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None
        data = case_to_dict(case)
    assert data["anonymous"] is False
    assert data["reporter_name"] == "Sam Example"
    assert data["role"] == "victim"
    assert data["description"] == NAMED["description"]
    assert data["behaviours"] == ["verbal_abuse", "property_damage"]
    assert data["characteristics"] == ["religion"]
    assert data["by_association"] is False
    assert data["classification"] == "hate_crime"
    assert data["when"] == {"text": "yesterday", "date": "2026-11-26"}
    assert data["where"]["area"] == "Normanton"
    assert data["where"]["place"] == "12 Example Street, Normanton"
    assert data["repeated"] == "yes"
    assert data["perpetrator"] == {"known": True, "resident": True, "staff": False}
    assert data["police"] == {"status": "reported", "crime_reference": "CR/123/26"}
    assert data["stop_hate_uk_consent"] is True
    assert data["support"] == ["counselling", "security"]
    assert data["outcome_wanted"] == "I want it to stop."
    assert data["contact"] == {"method": "phone", "details": "07700 900123",
                               "safe_times": "weekdays after 6pm", "leave_messages": False,
                               "opted_out": False}
    assert data["urgent"] is False
    assert data["channel"] == "web" and data["language"] == "en"


def test_anonymous_report_gets_reference_and_code_and_keeps_no_contact(service):
    script = dict(NAMED, anonymous="Stay anonymous", where_type="online",
                  platform="A social media site", behaviours="online",
                  characteristics="association", area="not_sure", police="not_now",
                  stop_hate="no", support="none")
    conversation_id = drive(service, script)
    turn = submit(service, conversation_id)
    code = turn.result.followup_code
    assert code and code in turn.result.replies[-1].text
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        data = case_to_dict(case)
        assert case.followup_code_hash.startswith("$argon2")
        assert code not in case.followup_code_hash
        assert followup_code_matches(case.followup_code_hash, code)
        assert followup_code_matches(case.followup_code_hash, code.lower().replace("-", " "))
        assert not followup_code_matches(case.followup_code_hash, "AAAA-AAAA-AAAAA")
        assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{5}", code)
    assert data["anonymous"] is True
    assert data["reporter_name"] is None
    assert data["contact"] == {"method": None, "details": None, "safe_times": None,
                               "leave_messages": None, "opted_out": False}
    assert data["by_association"] is True and data["characteristics"] == []
    assert data["classification"] == "hate_incident"
    assert data["where"]["online_platform"] == "A social media site"
    assert data["where"]["area"] is None
    assert data["support"] == []
    assert data["police"]["crime_reference"] is None


@pytest.mark.parametrize("step", [s.id for s in STEPS if s.kind is not AnswerType.REVIEW
                                  and s.id != "language"])
def test_bad_answers_are_asked_again_with_a_hint(service, step):
    conversation_id = drive(service, script_reaching(step), until=step)
    bad = {AnswerType.TEXT: "   ", AnswerType.TIME: "", AnswerType.PLACE: "\x00\x01"}
    turn = service.send(conversation_id, bad.get(next(s.kind for s in STEPS if s.id == step),
                                                 "purple elephant 42"))
    assert step_of(service, conversation_id) == step
    assert len(turn.result.replies) == 2
    assert turn.result.replies[0].text.startswith(("Please", "Sorry"))
    assert step not in answers_of(service, conversation_id)


def test_non_skippable_questions_refuse_skip(service):
    conversation_id = drive(service, NAMED, until="description")
    turn = service.send(conversation_id, "skip")
    assert step_of(service, conversation_id) == "description"
    assert "need an answer" in turn.result.replies[0].text


def test_skip_stores_a_skipped_answer_and_moves_on(service):
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "skip")
    assert step_of(service, conversation_id) == "where_type"
    assert answers_of(service, conversation_id)["when"] is None


def test_numbers_words_and_values_all_choose(service):
    conversation_id = service.start("web").conversation_id
    service.send(conversation_id, "NO.")
    service.send(conversation_id, "2")
    assert answers_of(service, conversation_id)["role"] == "witness"
    service.send(conversation_id, "back")
    service.send(conversation_id, "for someone else")
    assert answers_of(service, conversation_id)["role"] == "on_behalf"


def test_multiple_choice_by_buttons_one_at_a_time_then_done(service):
    conversation_id = drive(service, NAMED, until="behaviours")
    turn = service.send(conversation_id, "threats")
    assert step_of(service, conversation_id) == "behaviours"
    values = [choice.value for choice in turn.result.replies[-1].choices]
    assert "threats" not in values and "done" in values
    service.send(conversation_id, "assault")
    service.send(conversation_id, "done")
    assert answers_of(service, conversation_id)["behaviours"] == ["threats", "assault"]
    assert step_of(service, conversation_id) == "characteristics"


def test_multiple_choice_exclusive_option_ends_the_question(service):
    conversation_id = drive(service, NAMED, until="characteristics")
    service.send(conversation_id, "Not sure")
    assert answers_of(service, conversation_id)["characteristics"] == ["not_sure"]


def test_back_returns_to_the_previous_question_and_keeps_answers(service):
    conversation_id = drive(service, NAMED, until="behaviours")
    service.send(conversation_id, "back")
    assert step_of(service, conversation_id) == "description"
    assert answers_of(service, conversation_id)["description"] == NAMED["description"]
    service.send(conversation_id, "/back")
    assert step_of(service, conversation_id) == "name"
    service.send(conversation_id, "Sam E")
    # Answered questions are not asked again: straight on to the first unanswered one.
    assert step_of(service, conversation_id) == "behaviours"
    assert answers_of(service, conversation_id)["name"] == "Sam E"


def test_back_at_the_first_question_stays_there(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "back")
    assert step_of(service, conversation_id) == "safety"
    assert "danger" in turn.result.replies[-1].text


def test_edit_at_review_changes_one_answer_and_returns_to_review(service):
    conversation_id = drive(service, NAMED)
    review = service.current(conversation_id).result.replies[-1]
    assert NAMED["description"] in review.text and "Sam Example" in review.text
    turn = service.send(conversation_id, "edit")
    values = [choice.value for choice in turn.result.replies[-1].choices]
    assert "edit:description" in values and "edit:safety" not in values
    service.send(conversation_id, "edit:description")
    assert step_of(service, conversation_id) == "description"
    turn = service.send(conversation_id, "They spat at me.")
    assert step_of(service, conversation_id) == REVIEW_STEP
    assert "They spat at me." in turn.result.replies[-1].text
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        assert get_case(session, turn.result.reference).description == "They spat at me."


def test_edit_that_opens_a_branch_asks_the_new_questions(service):
    script = dict(NAMED, anonymous="anonymous")
    conversation_id = drive(service, script)
    service.send(conversation_id, "edit")
    service.send(conversation_id, "edit:anonymous")
    service.send(conversation_id, "named")
    # Naming yourself opens the name and contact questions, asked in turn.
    assert step_of(service, conversation_id) == "name"
    drive(service, NAMED, conversation_id)
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        assert case.anonymous is False and case.contact_details == "07700 900123"


def test_review_back_to_summary_from_edit_menu(service):
    conversation_id = drive(service, NAMED)
    service.send(conversation_id, "change")
    turn = service.send(conversation_id, "review")
    assert step_of(service, conversation_id) == REVIEW_STEP
    assert turn.result.replies[-1].choices[0].value == "submit"


def test_bad_answer_at_review_and_in_edit_menu(service):
    conversation_id = drive(service, NAMED)
    turn = service.send(conversation_id, "maybe later")
    assert step_of(service, conversation_id) == REVIEW_STEP
    assert turn.result.replies[0].text.startswith("Please choose")
    service.send(conversation_id, "edit")
    turn = service.send(conversation_id, "banana")
    assert turn.result.replies[0].text.startswith("Please choose")


def test_restart_asks_first_then_deletes_answers_and_starts_again(service):
    conversation_id = drive(service, NAMED, until="when")
    turn = service.send(conversation_id, "restart")
    assert "will be deleted" in turn.result.replies[-1].text
    assert [c.value for c in turn.result.replies[-1].choices] == ["yes", "no"]
    turn = service.send(conversation_id, "no")
    assert "nothing has been deleted" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "when"
    assert answers_of(service, conversation_id)["description"] == NAMED["description"]
    service.send(conversation_id, "/restart")
    turn = service.send(conversation_id, "yes")
    assert step_of(service, conversation_id) == FIRST_STEP
    assert answers_of(service, conversation_id) == {}
    assert "start again" in turn.result.replies[0].text


def test_restart_before_any_answer_needs_no_confirmation(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "restart")
    assert step_of(service, conversation_id) == FIRST_STEP
    assert turn.result.replies[-1].text == "Are you in danger right now?"


def test_restart_after_submission_says_the_report_is_not_affected(service):
    conversation_id = drive(service, NAMED)
    reference = submit(service, conversation_id).result.reference
    turn = service.send(conversation_id, "restart")
    assert f"Your report {reference} has been sent and is not affected" in (
        turn.result.replies[0].text)
    assert step_of(service, conversation_id) == FIRST_STEP
    with service.sessions() as session:
        assert get_case(session, reference) is not None


def test_help_explains_the_question_and_the_commands(service):
    conversation_id = drive(service, NAMED, until="anonymous")
    turn = service.send(conversation_id, "help")
    texts = [reply.text for reply in turn.result.replies]
    assert "anonymous" in texts[0] and "code" in texts[0]
    assert "back" in texts[1] and "999" in texts[1]
    assert step_of(service, conversation_id) == "anonymous"


def test_stop_pauses_and_the_next_message_resumes(service):
    conversation_id = drive(service, NAMED, until="when")
    turn = service.send(conversation_id, "/stop")
    assert "Nothing has been sent" in turn.result.replies[0].text
    assert "72 hours" in turn.result.replies[0].text
    turn = service.send(conversation_id, "hello again")
    assert "Welcome back" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "when"
    assert answers_of(service, conversation_id)["description"] == NAMED["description"]


def test_language_command_offers_the_menu_at_any_step(service):
    conversation_id = drive(service, NAMED, until="when")
    turn = service.send(conversation_id, "/language")
    assert [c.value for c in turn.result.replies[-1].choices] == [*codes(), "other"]
    service.send(conversation_id, "purple")
    turn = service.send(conversation_id, "English")
    assert "continue in English" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "when"


@pytest.mark.parametrize("step", [s.id for s in STEPS if s.id != "language"])
def test_emergency_words_at_every_step_give_999_advice_and_mark_urgent(service, step):
    script = script_reaching(step)
    conversation_id = drive(service, script, until=step)
    turn = service.send(conversation_id, "They are outside my door right now")
    assert turn.result.urgent_raised
    assert "999" in turn.result.replies[0].text
    # The reporter can carry on: a question is asked next.
    assert turn.result.replies[-1].text
    with service.sessions() as session:
        assert session.get(Conversation, conversation_id).urgent is True
    drive(service, script, conversation_id)
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        assert get_case(session, turn.result.reference).urgent is True


def test_danger_yes_gives_advice_and_an_urgent_case(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "Yes")
    assert "999" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "role"
    drive(service, NAMED, conversation_id)
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        assert case.urgent and case.danger_now


def test_injury_or_vulnerable_person_makes_the_case_urgent(service):
    conversation_id = drive(service, dict(NAMED, vulnerable="yes"))
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        assert case.urgent and not case.danger_now


@pytest.mark.parametrize("step", [s.id for s in STEPS if s.id != "language"])
def test_resume_at_any_step_after_a_server_restart(service, clock, db_url, step):
    script = script_reaching(step)
    conversation_id = drive(service, script, until=step)
    before = answers_of(service, conversation_id)
    # A new engine and service on the same database: as after a restart of the server.
    from intake.db import make_engine, make_sessionmaker
    from intake.engine import EngineSettings

    engine2 = make_engine(db_url)
    try:
        restarted = IntakeService(make_sessionmaker(engine2), Engine(EngineSettings()), clock)
        turn = restarted.current(conversation_id)
        prompt = next(s.prompt for s in STEPS if s.id == step)
        assert turn.result.replies[-1].text.endswith(prompt) or step == REVIEW_STEP
        assert answers_of(restarted, conversation_id) == before
        if step != REVIEW_STEP:
            drive(restarted, script, conversation_id)
        assert submit(restarted, conversation_id).result.reference
    finally:
        engine2.dispose()


def test_abandoned_conversations_expire_with_their_answers(service, clock):
    old = drive(service, NAMED, until="when")
    clock.advance(hours=71)
    fresh = drive(service, NAMED, until="when")
    clock.advance(hours=2)
    assert service.expire() == 1
    with pytest.raises(ConversationNotFound):
        service.send(old, "yesterday")
    assert step_of(service, fresh) == "when"
    with service.sessions() as session:
        assert session.get(Conversation, old) is None


def test_an_expired_conversation_is_gone_even_before_the_job_runs(service, clock):
    old = drive(service, NAMED, until="when")
    clock.advance(hours=73)
    with pytest.raises(ConversationNotFound):
        service.current(old)
    with service.sessions() as session:
        assert session.get(Conversation, old) is None


def test_after_submission_messages_point_to_the_reference(service):
    conversation_id = drive(service, NAMED)
    reference = submit(service, conversation_id).result.reference
    turn = service.send(conversation_id, "one more thing")
    assert turn.result.done and turn.result.reference == reference
    assert reference in turn.result.replies[0].text
    with service.sessions() as session:
        assert session.scalars(select(Case)).all().__len__() == 1
        assert session.get(Conversation, conversation_id).answers == {"_reference": reference}


def test_when_understands_relative_words_and_keeps_them(service, clock):
    clock.now = clock.now.replace(year=2025, month=3, day=10)
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "yesterday evening")
    when = answers_of(service, conversation_id)["when"]
    assert when == {"text": "yesterday evening", "date": "2025-03-09"}


def test_a_date_in_the_future_is_kept_as_words_only(service, clock):
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "next week")
    assert answers_of(service, conversation_id)["when"] == {"text": "next week", "date": None}


def test_typed_numbers_on_a_multiple_choice_are_the_whole_selection(service):
    conversation_id = drive(service, NAMED, until="behaviours")
    service.send(conversation_id, "3")
    assert answers_of(service, conversation_id)["behaviours"] == ["threats"]
    service.send(conversation_id, "1 and 2")
    assert answers_of(service, conversation_id)["characteristics"] == ["race", "religion"]


def test_choosing_anonymous_says_what_it_means(service):
    conversation_id = drive(service, NAMED, until="anonymous")
    turn = service.send(conversation_id, "anonymous")
    assert "can't contact you" in turn.result.replies[0].text
    assert "code" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "description"


def test_two_turns_racing_on_one_conversation_cannot_both_win(service):
    from sqlalchemy.orm.exc import StaleDataError

    from intake import conversations

    conversation_id = service.start("web").conversation_id
    with service.sessions() as session, session.begin():
        first = conversations.load(session, conversation_id)
        second = conversations.load(session, conversation_id)
        first.step = "role"
        conversations.save(session, first)
        second.step = "description"
        with pytest.raises(StaleDataError):
            conversations.save(session, second)
    assert step_of(service, conversation_id) == "role"


def test_concurrent_messages_to_one_conversation_are_all_applied(service):
    import threading

    conversation_id = drive(service, NAMED, until="behaviours")
    picks = ["verbal_abuse", "intimidation", "threats", "harassment"]
    threads = [threading.Thread(target=service.send, args=(conversation_id, pick))
               for pick in picks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers_of(service, conversation_id)["_pending"]) == sorted(picks)


def test_the_area_named_in_an_address_is_offered_first_not_assumed(service):
    conversation_id = drive(service, NAMED, until="place")
    service.send(conversation_id, "Derwent Street, near Chaddesden Park")
    assert step_of(service, conversation_id) == "area"
    turn = service.send(conversation_id, "back")
    service.send(conversation_id, "Flat 2, Abbey Close")
    turn = service.current(conversation_id)
    assert turn.result.replies[-1].choices[0].value == "Abbey"
    service.send(conversation_id, "Sinfin")
    assert answers_of(service, conversation_id)["area"] == "Sinfin"


def test_emergency_words_work_while_paused_and_after_submission(service):
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "/stop")
    turn = service.send(conversation_id, "they are breaking in now")
    assert turn.result.urgent_raised and "999" in turn.result.replies[0].text
    conversation_id = drive(service, NAMED)
    submit(service, conversation_id)
    turn = service.send(conversation_id, "he is attacking me now")
    assert turn.result.urgent_raised and "999" in turn.result.replies[0].text
    assert turn.result.done


def test_a_real_answer_after_a_pause_is_kept_and_commands_work(service):
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "/stop")
    turn = service.send(conversation_id, "it was on Friday night")
    assert "Welcome back" in turn.result.replies[0].text
    assert answers_of(service, conversation_id)["when"]["text"] == "it was on Friday night"
    service.send(conversation_id, "/stop")
    turn = service.send(conversation_id, "back")
    assert step_of(service, conversation_id) == "when"


def test_stop_is_an_answer_on_a_free_text_question(service):
    conversation_id = drive(service, NAMED, until="outcome")
    service.send(conversation_id, "Stop.")
    assert answers_of(service, conversation_id)["outcome"] == "Stop."
    assert step_of(service, conversation_id) == "contact_method"
    turn = service.send(conversation_id, "stop")  # on a choice question it pauses
    assert "Nothing has been sent" in turn.result.replies[0].text


@pytest.mark.parametrize("text", ["No, I'm not in danger", "no", "I am not in danger now"])
def test_saying_not_in_danger_is_not_an_emergency(service, text):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, text)
    assert not turn.result.urgent_raised
    assert answers_of(service, conversation_id)["safety"] == "no"


def test_ok_is_not_taken_as_yes_to_danger(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "ok")
    assert step_of(service, conversation_id) == "safety"
    assert "Yes or No" in turn.result.replies[0].text


def test_changing_danger_to_no_clears_danger_now(service):
    conversation_id = service.start("web").conversation_id
    service.send(conversation_id, "yes")
    service.send(conversation_id, "back")
    service.send(conversation_id, "no")
    drive(service, NAMED, conversation_id)
    turn = submit(service, conversation_id)
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        assert case.danger_now is False
        assert case.urgent is True  # urgency once raised stays for the officer to judge


def test_editing_a_multiple_choice_shows_the_old_answer(service):
    conversation_id = drive(service, NAMED)
    service.send(conversation_id, "edit")
    turn = service.send(conversation_id, "edit:behaviours")
    assert turn.result.replies[-1].text.startswith(
        "Your answer was: Abuse or insults, Property damage")
    service.send(conversation_id, "Threats, Attack")
    assert answers_of(service, conversation_id)["behaviours"] == ["threats", "assault"]
    assert step_of(service, conversation_id) == REVIEW_STEP


def test_skip_after_some_picks_keeps_them(service):
    conversation_id = drive(service, NAMED, until="support")
    service.send(conversation_id, "counselling")
    service.send(conversation_id, "skip")
    assert answers_of(service, conversation_id)["support"] == ["counselling"]


@pytest.mark.parametrize("text,expected", [
    ("Abuse or insults", ["verbal_abuse"]),
    ("Threats and attack", ["threats", "assault"]),
    ("threats, harassment", ["threats", "harassment"]),
    ("3 and 5", ["threats", "assault"]),
])
def test_typed_lists_of_options(service, text, expected):
    conversation_id = drive(service, NAMED, until="behaviours")
    service.send(conversation_id, text)
    assert answers_of(service, conversation_id)["behaviours"] == expected


def test_danger_described_after_a_no_still_counts_as_danger(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "no they are attacking me")
    assert turn.result.urgent_raised
    assert answers_of(service, conversation_id)["safety"] == "yes"


def test_the_same_message_id_delivered_twice_moves_the_conversation_once(service):
    conversation_id = service.start("sms").conversation_id
    first = service.send(conversation_id, "no", message_id="SM0000000000000001")
    again = service.send(conversation_id, "no", message_id="SM0000000000000001")
    assert again.result == first.result
    assert step_of(service, conversation_id) == "role"
    service.send(conversation_id, "2", message_id="SM0000000000000002")
    assert answers_of(service, conversation_id)["role"] == "witness"
