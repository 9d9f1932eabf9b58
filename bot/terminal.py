"""The terminal chat: the same conversation on a console, for trying it and for training."""

from __future__ import annotations

from typing import ClassVar, TextIO

from bot.base import ChannelAdapter
from intake.engine import TurnResult
from intake.service import IntakeService


class TerminalAdapter(ChannelAdapter):
    """Renders replies as plain text with numbered choices."""

    name: ClassVar[str] = "terminal"

    def render(self, result: TurnResult) -> str:
        blocks = []
        for message in self.outbound(result):
            lines = [message.text]
            lines.extend(f"  {index}. {label}"
                         for index, (label, _value) in enumerate(message.choices, start=1))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def run(self, service: IntakeService, stdin: TextIO, stdout: TextIO,
            prompt: str = "> ") -> str | None:
        """Hold one conversation until it is submitted or input ends; returns the reference."""
        turn = service.start(self.name)
        stdout.write(self.render(turn.result) + "\n")
        while True:
            stdout.write(prompt)
            stdout.flush()
            line = stdin.readline()
            if not line:
                stdout.write("\n")
                return None
            turn = service.send(turn.conversation_id, line.rstrip("\n"))
            stdout.write("\n" + self.render(turn.result) + "\n")
            if turn.result.done and turn.result.reference:
                return turn.result.reference
