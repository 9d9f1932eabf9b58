"""The officer dashboard: sign in, my cases, the case view, acknowledge. In English.

Flask-Login keeps the signed-in officer; every form carries a CSRF token (Flask-WTF);
the session cookie is HttpOnly, SameSite=Lax and Secure (set ``SESSION_COOKIE_SECURE``
false only for plain-HTTP development), and a session ends after
``HATEREPORT_SESSION_MINUTES`` without a request. Officers see only their own cases,
managers all; every read of a case, allowed or not, is written to the audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
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
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from intake import guard
from intake.cases import case_to_dict, get_case
from intake.casework import (
    CONTACT_METHODS,
    LEGAL_KINDS,
    OUTCOMES,
    REFERRAL_BASIS,
    REFERRAL_TO,
    SUPPORT_KINDS,
    VICTIM_VIEWS,
    ActionError,
    add_event,
    close_case,
    find_officer,
    reallocate,
    record_action,
    risk_review_overdue,
    verify_password,
)
from intake.db import transaction
from intake.models import AuditEntry, Case, Officer, OutboxMessage
from intake.outbox import is_opted_out
from intake.updates import route
from web.extensions import services

bp = Blueprint("dashboard", __name__)
login_manager = LoginManager()
login_manager.login_view = "dashboard.login"
login_manager.login_message = "Please sign in to see cases."
login_manager.session_protection = "strong"

#: The choices the case view's forms offer.
CHOICES = {"contact": CONTACT_METHODS, "support": SUPPORT_KINDS, "to": REFERRAL_TO,
           "basis": REFERRAL_BASIS, "legal": LEGAL_KINDS, "outcome": OUTCOMES,
           "victim_view": VICTIM_VIEWS}
#: Failed sign-ins allowed per email address in the window, before it is refused.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
#: Counted in the database for any address, known or not, the same in every process.
SIGN_IN = guard.Limit("sign_in", MAX_FAILURES, timedelta(seconds=FAILURE_WINDOW_SECONDS),
                      timedelta(seconds=FAILURE_WINDOW_SECONDS))


class Staff(UserMixin):  # type: ignore[misc]
    """The signed-in officer, as Flask-Login holds it (no ORM object between requests)."""

    def __init__(self, officer: Officer) -> None:
        self.id = officer.id
        self.name = officer.name
        self.email = officer.email
        self.role = officer.role
        self.session_version = officer.session_version

    def get_id(self) -> str:
        # The version makes every session issued before a sign-out void, copies included.
        return f"{self.id}:{self.session_version}"

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@login_manager.user_loader
def _load(token: str) -> Staff | None:
    officer_id, _, version = token.partition(":")
    if not (officer_id.isdigit() and version.isdigit()):
        return None
    with services().sessions() as db:
        officer = db.get(Officer, int(officer_id))
        if officer is None or not officer.active or officer.session_version != int(version):
            return None
        return Staff(officer)


def init_app(app: Flask) -> None:
    """Sign-in for the dashboard."""
    login_manager.init_app(app)
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
        the = services()
        with the.sessions() as db:
            blocked = guard.is_locked(db, SIGN_IN, email, the.intake.clock())
        if blocked:
            error = "Too many failed attempts. Try again in 15 minutes."
        else:
            with the.sessions() as db:
                officer = find_officer(db, email) if email else None
                matches = verify_password(officer if officer and officer.active else None,
                                          password)
                good = officer is not None and officer.active and matches
                staff = Staff(officer) if good and officer is not None else None
            if staff is None:
                with transaction(the.sessions) as db:
                    guard.failed(db, SIGN_IN, email, the.intake.clock())
                _audit("sign_in_failed")
                error = "That email and password do not match an active account."
            else:
                with transaction(the.sessions) as db:
                    guard.clear(db, SIGN_IN, email)
                session.clear()
                session.permanent = True  # expires after the idle timeout
                login_user(staff)
                _audit("sign_in")
                return redirect(_safe_next(request.args.get("next") or ""))
    return render_template("dashboard/login.html", error=error)


def _safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only, else the cases list."""
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith(("//", "/\\")) or parts.scheme
            or parts.netloc or any(ord(char) < 32 or char in "\\\x7f" for char in target)):
        return url_for("dashboard.cases")
    return target


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign out, everywhere this session's cookie was copied to as well."""
    _audit("sign_out")
    with transaction(services().sessions) as db:
        officer = db.get(Officer, current_user.id)
        if officer is not None:
            officer.session_version += 1
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
    now = services().intake.clock()
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
            "next_update": case.next_update_due_at,
            "risk": case.risk_rating,
            "risk_review_overdue": risk_review_overdue(case, now),
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
        opted_out = any(is_opted_out(db, identity) for identity in (
            fresh.channel_identity_hash, fresh.contact_identity_hash) if identity)
        data = case_to_dict(fresh, opted_out=opted_out)
        escalates_at = (None if fresh.acknowledged_at
                        else services().casework.escalation_due_at(fresh))
        mine = fresh.officer_id == current_user.id
        review_overdue = risk_review_overdue(fresh, services().intake.clock())
        way = route(fresh)
        next_update = {"due_at": fresh.next_update_due_at,
                       "by": way.channel or "you (the officer)", "why": way.why_not}
        officers = [{"id": officer.id, "name": officer.name, "areas": officer.areas}
                    for officer in db.scalars(select(Officer).where(Officer.active.is_(True))
                                              .order_by(Officer.name))]
    _audit("view_case", case)
    return render_template("dashboard/case.html", case=data, escalates_at=escalates_at,
                           next_update=next_update, officers=officers, choices=CHOICES,
                           risk_review_overdue=review_overdue,
                           open=data["status"] == "open",
                           can_acknowledge=(mine or current_user.is_manager)
                           and data["acknowledged_at"] is None and data["officer"] is not None)


@bp.post("/cases/<reference>/acknowledge")
@login_required
def acknowledge(reference: str) -> Response:
    """The officer has seen the case: stops the escalation clock."""
    case = _case_or_404(reference)
    the = services()
    with transaction(the.sessions) as db:
        fresh, officer = _fresh(db, case)
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
    if case.status != "open":
        flash("The case is closed: nothing more goes to the reporter.")
        return redirect(url_for("dashboard.case_view", reference=case.reference))
    if not text:
        flash("Write the update first.")
        return redirect(url_for("dashboard.case_view", reference=case.reference))
    the = services()
    with transaction(the.sessions) as db:
        fresh, officer = _fresh(db, case)
        add_event(db, fresh, "update_written", the.intake.clock(), officer=officer,
                  text=text[:2000])
        due = fresh.next_update_due_at
    _audit("write_update", case)
    when = due.strftime("%d %b %Y") if due else "the next update"
    flash(f"Saved. It goes to the reporter with their next update ({when}).")
    return redirect(url_for("dashboard.case_view", reference=case.reference))


@bp.post("/cases/<reference>/actions")
@login_required
def record(reference: str) -> Response:
    """Record contact, support offered, a referral, legal action or a risk assessment."""
    case = _case_or_404(reference)
    kind = request.form.get("kind") or ""
    the = services()
    try:
        with transaction(the.sessions) as db:
            fresh, officer = _fresh(db, case)
            record_action(db, fresh, officer, kind, request.form.to_dict(), the.intake.clock())
    except ActionError as exc:
        flash(f"Not recorded: {exc}.")
    else:
        _audit("record_action", case, kind=kind)
        flash("Recorded.")
    return redirect(url_for("dashboard.case_view", reference=case.reference) + "#actions")


@bp.post("/cases/<reference>/close")
@login_required
def close(reference: str) -> Response:
    """Close the case with its outcome and the victim's view of it."""
    case = _case_or_404(reference)
    the = services()
    try:
        with transaction(the.sessions) as db:
            fresh, officer = _fresh(db, case)
            close_case(db, fresh, officer, request.form.get("outcome") or "",
                       request.form.get("victim_view") or "", request.form.get("note"),
                       the.intake.clock())
    except ActionError as exc:
        flash(f"Not closed: {exc}.")
    else:
        _audit("close", case)
        flash("The case is closed.")
    return redirect(url_for("dashboard.case_view", reference=case.reference))


@bp.post("/cases/<reference>/reallocate")
@login_required
def reallocate_case(reference: str) -> Response:
    """A manager gives the case to another officer."""
    if not current_user.is_manager:
        abort(403)
    case = _case_or_404(reference)
    the = services()
    try:
        with transaction(the.sessions) as db:
            fresh, manager = _fresh(db, case)
            target = db.get(Officer, int(request.form.get("officer") or 0))
            if target is None:
                raise ActionError("choose an officer")
            reallocate(the.casework, db, fresh, target, manager,
                       request.form.get("reason") or "", the.intake.clock())
    except ActionError as exc:
        flash(f"Not reallocated: {exc}.")
    else:
        _audit("reallocate", case)
        flash("Reallocated: the new officer has been alerted.")
        the.worker.kick()
    return redirect(url_for("dashboard.case_view", reference=case.reference))


def _fresh(db: Any, case: Case) -> tuple[Case, Officer]:
    """The case as it is now, its row locked until the transaction ends (PostgreSQL), so
    two actions on one case (a double click, the jobs' sweep) take turns and each sees
    what the other did."""
    fresh = db.get(Case, case.id, with_for_update=True)
    officer = db.get(Officer, current_user.id)
    assert fresh is not None and officer is not None
    return fresh, officer


@bp.get("/outbox")
@login_required
def outbox() -> str:
    """Messages that could not be delivered (dead letters) and the queue (managers only)."""
    if not current_user.is_manager:
        abort(403)
    with services().sessions() as db:
        counts = {str(status): int(count) for status, count in db.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
        dead = db.scalars(select(OutboxMessage).where(OutboxMessage.status == "dead")
                          .order_by(OutboxMessage.id.desc()).limit(200)).all()
        rows = [{"id": row.id, "channel": row.channel, "purpose": row.purpose,
                 "attempts": row.attempts, "error": row.last_error,
                 "created_at": row.created_at} for row in dead]
    _audit("view_outbox")
    return render_template("dashboard/outbox.html", counts=counts, rows=rows)


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


