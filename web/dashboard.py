"""The officer dashboard: sign in, my cases, the case view, acknowledge. In English.

Flask-Login keeps the signed-in officer; every form carries a CSRF token (Flask-WTF);
the session cookie is HttpOnly, SameSite=Lax and Secure (set ``SESSION_COOKIE_SECURE``
false only for plain-HTTP development), and a session ends after
``HATEREPORT_SESSION_MINUTES`` without a request. Officers see only their own cases,
managers all; every read of a case, allowed or not, is written to the audit log.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.cases import case_to_dict, get_case
from intake.casework import add_event, find_officer, verify_password
from intake.db import transaction
from intake.models import AuditEntry, Case, Officer
from intake.outbox import is_opted_out
from intake.updates import route
from web.extensions import services

bp = Blueprint("dashboard", __name__)
login_manager = LoginManager()
login_manager.login_view = "dashboard.login"
login_manager.login_message = "Please sign in to see cases."
login_manager.session_protection = "strong"

#: Failed sign-ins allowed per email address in the window, before it is refused.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60


class Staff(UserMixin):  # type: ignore[misc]
    """The signed-in officer, as Flask-Login holds it (no ORM object between requests)."""

    def __init__(self, officer: Officer) -> None:
        self.id = officer.id
        self.name = officer.name
        self.email = officer.email
        self.role = officer.role

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@login_manager.user_loader
def _load(officer_id: str) -> Staff | None:
    with services().sessions() as db:
        officer = db.get(Officer, int(officer_id))
        return Staff(officer) if officer is not None and officer.active else None


class _Throttle:
    """Failed sign-ins per email address, in memory (per process)."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, email: str) -> bool:
        with self._lock:
            recent = self._failures[email]
            while recent and recent[0] < time.monotonic() - FAILURE_WINDOW_SECONDS:
                recent.popleft()
            return len(recent) >= MAX_FAILURES

    def failed(self, email: str) -> None:
        with self._lock:
            self._failures[email].append(time.monotonic())

    def clear(self, email: str) -> None:
        with self._lock:
            self._failures.pop(email, None)


THROTTLE = "hatereport.sign_in_throttle"


def throttle() -> _Throttle:
    found: _Throttle = current_app.extensions[THROTTLE]
    return found


def init_app(app: Flask) -> None:
    """Sign-in for the dashboard."""
    login_manager.init_app(app)
    app.extensions[THROTTLE] = _Throttle()
    app.register_blueprint(bp)


def _audit(action: str, case: Case | None = None, officer_id: int | None = None,
           **data: Any) -> None:
    with transaction(services().sessions) as db:
        db.add(AuditEntry(at=services().intake.clock(), action=action,
                          officer_id=officer_id if officer_id is not None else (
                              current_user.id if current_user.is_authenticated else None),
                          case_id=case.id if case else None, data=data))


# -- signing in and out -------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """The sign-in form."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.cases"))
    error = None
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        if throttle().blocked(email):
            error = "Too many failed attempts. Try again in 15 minutes."
        else:
            with services().sessions() as db:
                officer = find_officer(db, email) if email else None
                good = (officer is not None and officer.active
                        and verify_password(officer, password))
                staff = Staff(officer) if good and officer is not None else None
            if staff is None:
                throttle().failed(email)
                _audit("sign_in_failed")
                error = "That email and password do not match an active account."
            else:
                throttle().clear(email)
                session.clear()
                session.permanent = True  # expires after the idle timeout
                login_user(staff)
                _audit("sign_in")
                target = request.args.get("next") or ""
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("dashboard.cases")
                return redirect(target)
    return render_template("dashboard/login.html", error=error)


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign out."""
    _audit("sign_out")
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("dashboard.login"))


# -- cases --------------------------------------------------------------------------------


def _visible(query: Any) -> Any:
    return query if current_user.is_manager else query.where(Case.officer_id == current_user.id)


@bp.get("/cases")
@login_required
def cases() -> str:
    """My cases (managers: every case), open first, urgent first, newest first."""
    casework = services().casework
    with services().sessions() as db:
        found = db.scalars(_visible(select(Case)).order_by(
            (Case.status != "open"), Case.urgent.desc(), Case.created_at.desc()).limit(500)).all()
        rows = [{
            "reference": case.reference,
            "created_at": case.created_at,
            "urgent": case.urgent,
            "status": case.status,
            "area": case.area or "-",
            "classification": case.classification,
            "officer": case.officer.name if case.officer else "unallocated",
            "acknowledged": case.acknowledged_at is not None,
            "escalates_at": None if case.acknowledged_at else casework.escalation_due_at(case),
            "language": case.language,
        } for case in found]
    _audit("list_cases", count=len(rows))
    return render_template("dashboard/cases.html", rows=rows)


def _case_or_404(reference: str) -> Case:
    with services().sessions() as db:
        case = get_case(db, reference)
    if case is None:
        _audit("denied", reference=reference[:32], reason="no such case")
        abort(404)
    if not current_user.is_manager and case.officer_id != current_user.id:
        # Not theirs: the same answer as for a case that does not exist.
        _audit("denied", case, reason="not their case")
        abort(404)
    return case


@bp.get("/cases/<reference>")
@login_required
def case_view(reference: str) -> str:
    """Every field of one case, the reporter's own words and language, the timeline."""
    case = _case_or_404(reference)
    with services().sessions() as db:
        fresh = db.get(Case, case.id)
        assert fresh is not None
        opted_out = bool(fresh.channel_identity_hash) and is_opted_out(
            db, str(fresh.channel_identity_hash))
        data = case_to_dict(fresh, opted_out=opted_out)
        escalates_at = (None if fresh.acknowledged_at
                        else services().casework.escalation_due_at(fresh))
        mine = fresh.officer_id == current_user.id
        way = route(fresh)
        next_update = {"due_at": fresh.next_update_due_at,
                       "by": way.channel or "you (the officer)", "why": way.why_not}
    _audit("view_case", case)
    return render_template("dashboard/case.html", case=data, escalates_at=escalates_at,
                           next_update=next_update,
                           can_acknowledge=(mine or current_user.is_manager)
                           and data["acknowledged_at"] is None and data["officer"] is not None)


@bp.post("/cases/<reference>/acknowledge")
@login_required
def acknowledge(reference: str) -> Response:
    """The officer has seen the case: stops the escalation clock."""
    case = _case_or_404(reference)
    the = services()
    with transaction(the.sessions) as db:
        fresh = db.get(Case, case.id)
        officer = db.get(Officer, current_user.id)
        assert fresh is not None and officer is not None
        done = the.casework.acknowledge(db, fresh, officer, the.intake.clock())
    _audit("acknowledge", case)
    flash("Acknowledged." if done else "It was already acknowledged.")
    return redirect(url_for("dashboard.case_view", reference=case.reference))


@bp.post("/cases/<reference>/update")
@login_required
def write_update(reference: str) -> Response:
    """An update for the reporter: it goes with their next fortnightly update."""
    case = _case_or_404(reference)
    text = (request.form.get("update") or "").strip()
    if not text:
        flash("Write the update first.")
        return redirect(url_for("dashboard.case_view", reference=case.reference))
    the = services()
    with transaction(the.sessions) as db:
        fresh = db.get(Case, case.id)
        officer = db.get(Officer, current_user.id)
        assert fresh is not None and officer is not None
        add_event(db, fresh, "update_written", the.intake.clock(), officer=officer,
                  text=text[:2000])
        due = fresh.next_update_due_at
    _audit("write_update", case)
    when = due.strftime("%d %b %Y") if due else "the next update"
    flash(f"Saved. It goes to the reporter with their next update ({when}).")
    return redirect(url_for("dashboard.case_view", reference=case.reference))


@bp.get("/audit")
@login_required
def audit() -> str:
    """The audit log, newest first (managers only)."""
    if not current_user.is_manager:
        _audit("denied", reason="audit log")
        abort(403)
    with services().sessions() as db:
        entries = [{
            "at": entry.at, "action": entry.action,
            "officer": entry.officer.email if entry.officer else "-",
            "case": entry.case.reference if entry.case else entry.data.get("reference", "-"),
            "data": {key: value for key, value in entry.data.items() if key != "reference"},
        } for entry in db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500))]
    return render_template("dashboard/audit.html", entries=entries)


