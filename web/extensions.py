"""The services the blueprints and commands share, bound to the app by the factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.casework import Casework
from intake.outbox import Outbox, OutboxWorker
from intake.service import IntakeService

EXTENSION = "hatereport"


@dataclass
class Services:
    """The database, the intake service and the outbox."""

    db: Engine
    sessions: sessionmaker[Session]
    intake: IntakeService
    outbox: Outbox
    #: Delivers the outbox in the background once started (``serve`` starts it).
    worker: OutboxWorker
    casework: Casework

    def init_app(self, app: Flask) -> None:
        """Bind to ``app``."""
        app.extensions[EXTENSION] = self


def services(app: Flask | None = None) -> Services:
    """The shared services of ``app`` (default: the current app)."""
    found: Services = (app or current_app).extensions[EXTENSION]
    return found
