"""The services the blueprints and commands share, bound to the app by the factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.service import IntakeService

EXTENSION = "hatereport"


@dataclass
class Services:
    """The database and the intake service."""

    db: Engine
    sessions: sessionmaker[Session]
    intake: IntakeService

    def init_app(self, app: Flask) -> None:
        """Bind to ``app``."""
        app.extensions[EXTENSION] = self


def services(app: Flask | None = None) -> Services:
    """The shared services of ``app`` (default: the current app)."""
    found: Services = (app or current_app).extensions[EXTENSION]
    return found
