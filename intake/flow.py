"""The guided report as data: one declarative table of steps, checked at import.

Each step says what it asks, what kind of answer it takes, whether it can be
skipped, and what comes next. A step with ``only_if`` is asked only when an earlier
answer holds one of the given values; otherwise the engine passes straight on to
its ``next``. The engine (``intake.engine``) drives this table and knows nothing of
any channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from intake.i18n import N_


class AnswerType(StrEnum):
    """The kinds of answer a step takes."""

    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI = "multi"
    TEXT = "text"
    TIME = "time"
    PLACE = "place"
    REVIEW = "review"


@dataclass(frozen=True)
class Choice:
    """One option of a choice step: the stored value and its (translatable) label."""

    value: str
    label: str
    exclusive: bool = False


@dataclass(frozen=True)
class Step:
    """One question of the guided report."""

    id: str
    kind: AnswerType
    prompt: str
    title: str
    next: str | None
    choices: tuple[Choice, ...] = ()
    skippable: bool = True
    help: str = ""
    only_if: tuple[str, tuple[str, ...]] | None = None
    editable: bool = True
    #: Said once when an answer is accepted, keyed by the answer's value.
    notes: tuple[tuple[str, str], ...] = ()


YES = Choice("yes", N_("Yes"))
NO = Choice("no", N_("No"))
NOT_SURE = Choice("not_sure", N_("Not sure"), exclusive=True)

BEHAVIOURS: tuple[Choice, ...] = (
    Choice("verbal_abuse", N_("Abuse or insults")),
    Choice("intimidation", N_("Intimidation")),
    Choice("threats", N_("Threats")),
    Choice("harassment", N_("Harassment")),
    Choice("assault", N_("Attack")),
    Choice("property_damage", N_("Property damage")),
    Choice("online", N_("Online abuse")),
    Choice("other", N_("Other")),
)

#: ``association`` is stored as ``by_association`` on the case, not as a characteristic.
CHARACTERISTICS: tuple[Choice, ...] = (
    Choice("race", N_("Race or nationality")),
    Choice("religion", N_("Religion or belief")),
    Choice("sexual_orientation", N_("Sexual orientation")),
    Choice("transgender_identity", N_("Transgender identity")),
    Choice("disability", N_("Disability")),
    Choice("alternative_subculture", N_("Alternative lifestyle")),
    Choice("association", N_("Linked to someone in these groups")),
    Choice("other", N_("Other")),
    Choice("not_sure", N_("Not sure"), exclusive=True),
)

SUPPORT: tuple[Choice, ...] = (
    Choice("counselling", N_("Someone to talk to")),
    Choice("security", N_("Locks or lights")),
    Choice("interpreter", N_("An interpreter")),
    Choice("literacy", N_("Help with reading")),
    Choice("named_officer", N_("One named officer")),
    Choice("none", N_("None needed"), exclusive=True),
)

FIRST_STEP = "safety"
REVIEW_STEP = "review"

STEPS: tuple[Step, ...] = (
    Step(
        "safety",
        AnswerType.YES_NO,
        N_("Are you in danger right now?"),
        N_("In danger now"),
        next="role",
        choices=(YES, NO),
        skippable=False,
        help=N_("If someone could hurt you now, answer Yes and we will tell you how to get help "
                "fast."),
        editable=False,
    ),
    Step(
        "role",
        AnswerType.CHOICE,
        N_("Who are you reporting as?"),
        N_("Reporting as"),
        next="anonymous",
        choices=(
            Choice("victim", N_("It happened to me")),
            Choice("witness", N_("I saw it happen")),
            Choice("on_behalf", N_("For someone else")),
            Choice("staff", N_("I work for the landlord")),
        ),
        help=N_("This helps us know who to support. Reports from anyone are welcome."),
    ),
    Step(
        "anonymous",
        AnswerType.CHOICE,
        N_("Do you want to give your name, or stay anonymous?"),
        N_("Name or anonymous"),
        next="name",
        choices=(
            Choice("named", N_("Give my name")),
            Choice("anonymous", N_("Stay anonymous")),
        ),
        skippable=False,
        help=N_("If you stay anonymous we cannot contact you. You will get a reference and a "
                "code to check or add to your report later."),
        notes=(("anonymous", N_(
            "That's fine. We won't ask your name, so we can't contact you. You'll get a "
            "reference and code to check your report."
        )),),
    ),
    Step(
        "name",
        AnswerType.TEXT,
        N_("What name should we use for you?"),
        N_("Your name"),
        next="description",
        only_if=("anonymous", ("named",)),
        help=N_("Any name you are happy for us to use."),
    ),
    Step(
        "description",
        AnswerType.TEXT,
        N_("What happened? Tell us in your own words."),
        N_("What happened"),
        next="behaviours",
        skippable=False,
        help=N_("Say what happened, who was involved and anything that was said. You do not "
                "have to prove why it happened."),
    ),
    Step(
        "behaviours",
        AnswerType.MULTI,
        N_("Which of these happened?"),
        N_("Type of incident"),
        next="characteristics",
        choices=BEHAVIOURS,
        help=N_("Choose all that fit."),
    ),
    Step(
        "characteristics",
        AnswerType.MULTI,
        N_("Why do you think it happened?"),
        N_("Why it happened"),
        next="when",
        choices=CHARACTERISTICS,
        help=N_("What you or anyone else believes is enough. Choose Not sure if you don't "
                "know."),
    ),
    Step(
        "when",
        AnswerType.TIME,
        N_("When did it happen? For example: yesterday, last night or a date."),
        N_("When"),
        next="where_type",
        help=N_("Your own words are fine, like 'on Friday evening'."),
    ),
    Step(
        "where_type",
        AnswerType.CHOICE,
        N_("Where did it happen?"),
        N_("Where"),
        next="place",
        choices=(
            Choice("home", N_("At or near my home")),
            Choice("neighbourhood", N_("In the street or on the estate")),
            Choice("online", N_("Online")),
            Choice("elsewhere", N_("Somewhere else")),
        ),
    ),
    Step(
        "place",
        AnswerType.PLACE,
        N_("What is the address, street or estate?"),
        N_("Place"),
        next="platform",
        only_if=("where_type", ("home", "neighbourhood", "elsewhere")),
        help=N_("A street name or estate is enough."),
    ),
    Step(
        "platform",
        AnswerType.TEXT,
        N_("Which website, app or social media was it on?"),
        N_("Online platform"),
        next="area",
        only_if=("where_type", ("online",)),
    ),
    Step(
        "area",
        AnswerType.CHOICE,
        N_("Which area is it in? If online, where you live."),
        N_("Area"),
        next="repeated",
        help=N_("This helps us give your report to the right officer."),
    ),
    Step(
        "repeated",
        AnswerType.CHOICE,
        N_("Has it happened before, or is it still going on?"),
        N_("Happened before"),
        next="perpetrator",
        choices=(YES, NO, NOT_SURE),
    ),
    Step(
        "perpetrator",
        AnswerType.MULTI,
        N_("What do you know about who did it?"),
        N_("Who did it"),
        next="injuries",
        choices=(
            Choice("known", N_("I know who they are")),
            Choice("resident", N_("They live nearby")),
            Choice("staff", N_("They work for the landlord")),
            Choice("unknown", N_("I don't know"), exclusive=True),
        ),
    ),
    Step(
        "injuries",
        AnswerType.YES_NO,
        N_("Was anyone hurt?"),
        N_("Anyone hurt"),
        next="vulnerable",
        choices=(YES, NO),
    ),
    Step(
        "vulnerable",
        AnswerType.CHOICE,
        N_("Were children or vulnerable adults affected or at risk?"),
        N_("Children or vulnerable adults"),
        next="police",
        choices=(YES, NO, NOT_SURE),
        help=N_("A vulnerable adult is someone who may not be able to protect themselves, "
                "for example because of illness or disability."),
    ),
    Step(
        "police",
        AnswerType.CHOICE,
        N_("Have you told the police?"),
        N_("Police"),
        next="crime_reference",
        choices=(
            Choice("reported", N_("Yes, I told them")),
            Choice("pass_on", N_("No, please tell them for me")),
            Choice("not_now", N_("No, not now")),
        ),
        help=N_("You can report to the police any time. We can pass your report on if you "
                "want us to."),
    ),
    Step(
        "crime_reference",
        AnswerType.TEXT,
        N_("What is the police crime reference number?"),
        N_("Crime reference"),
        next="stop_hate",
        only_if=("police", ("reported",)),
        help=N_("Skip this if you don't have it to hand."),
    ),
    Step(
        "stop_hate",
        AnswerType.YES_NO,
        N_("Can we pass your report to Stop Hate UK? They support people affected by hate."),
        N_("Pass on to Stop Hate UK"),
        next="support",
        choices=(YES, NO),
        help=N_("We only share it if you say Yes."),
    ),
    Step(
        "support",
        AnswerType.MULTI,
        N_("What help do you want?"),
        N_("Help wanted"),
        next="outcome",
        choices=SUPPORT,
    ),
    Step(
        "outcome",
        AnswerType.TEXT,
        N_("What would you like to happen now?"),
        N_("What you want to happen"),
        next="contact_method",
        help=N_("For example: for it to stop, to feel safe at home, or for someone to be "
                "spoken to."),
    ),
    Step(
        "contact_method",
        AnswerType.CHOICE,
        N_("How should your officer contact you?"),
        N_("How to contact you"),
        next="contact_details",
        only_if=("anonymous", ("named",)),
        choices=(
            Choice("this_channel", N_("Here, in this chat")),
            Choice("phone", N_("Phone call")),
            Choice("text", N_("Text message")),
            Choice("email", N_("Email")),
        ),
    ),
    Step(
        "contact_details",
        AnswerType.TEXT,
        N_("What phone number or email address should we use?"),
        N_("Contact details"),
        next="contact_times",
        only_if=("contact_method", ("phone", "text", "email")),
    ),
    Step(
        "contact_times",
        AnswerType.TEXT,
        N_("When is it safe to contact you?"),
        N_("Safe times to contact"),
        next="leave_messages",
        only_if=("anonymous", ("named",)),
        help=N_("For example: weekdays after 6pm, or never at the weekend."),
    ),
    Step(
        "leave_messages",
        AnswerType.YES_NO,
        N_("Is it safe to leave you messages? Say No if someone else might see them."),
        N_("Leave messages"),
        next=REVIEW_STEP,
        only_if=("anonymous", ("named",)),
        choices=(YES, NO),
    ),
    Step(
        REVIEW_STEP,
        AnswerType.REVIEW,
        N_("Please check your report."),
        N_("Check your report"),
        next=None,
        skippable=False,
        help=N_("Choose Send report to send it, or Change an answer to fix anything."),
        editable=False,
    ),
)

STEPS_BY_ID: dict[str, Step] = {step.id: step for step in STEPS}


@dataclass
class FlowError(Exception):
    """The flow table is inconsistent (unknown target, unreachable step, dead end)."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(self.problems)


def check_flow(steps: tuple[Step, ...], first: str, last: str) -> None:
    """Check the table: targets exist, every step is reachable, every path ends at ``last``."""
    by_id = {step.id: step for step in steps}
    problems: list[str] = []
    if len(by_id) != len(steps):
        problems.append("duplicate step ids")
    for step in steps:
        if step.next is not None and step.next not in by_id:
            problems.append(f"{step.id}: next {step.next!r} is not a step")
        if step.next is None and step.id != last:
            problems.append(f"{step.id}: dead end (no next step)")
        if step.only_if is not None and step.only_if[0] not in by_id:
            problems.append(f"{step.id}: only_if refers to unknown step {step.only_if[0]!r}")
        if step.kind in (AnswerType.CHOICE, AnswerType.MULTI, AnswerType.YES_NO):
            values = [choice.value for choice in step.choices]
            if len(values) != len(set(values)):
                problems.append(f"{step.id}: duplicate choice values")
    if first not in by_id or last not in by_id:
        problems.append("first or last step missing")
        raise FlowError(problems)
    # Walk the next-chain from the first step: it must visit every step once and end at last.
    seen: list[str] = []
    current: str | None = first
    while current is not None and current in by_id and current not in seen:
        seen.append(current)
        current = by_id[current].next
    if current is not None:
        problems.append(f"cycle or broken chain at {current!r}")
    unreachable = [step.id for step in steps if step.id not in seen]
    if unreachable:
        problems.append(f"unreachable steps: {', '.join(unreachable)}")
    if seen and seen[-1] != last:
        problems.append(f"the flow ends at {seen[-1]!r}, not at {last!r}")
    # A conditional step may only depend on an answer given before it.
    position = {step_id: index for index, step_id in enumerate(seen)}
    for step in steps:
        if step.only_if is not None and step.only_if[0] in position and step.id in position:
            if position[step.only_if[0]] >= position[step.id]:
                problems.append(f"{step.id}: depends on a later step {step.only_if[0]!r}")
    if problems:
        raise FlowError(problems)


check_flow(STEPS, FIRST_STEP, REVIEW_STEP)
