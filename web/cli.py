"""The ``hatereport`` command: serve, chat on the terminal, read cases, maintain the database."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from telegram import Bot

from bot.telegram import make_bot
from bot.terminal import TerminalAdapter
from intake.cases import case_to_dict, get_case, list_cases
from intake.casework import (
    ALERT_CHANNELS,
    ROLES,
    OfficerError,
    add_officer,
    alert_channel,
    alert_channels_wanted,
    disable_officer,
    find_officer,
    list_officers,
    open_caseloads,
)
from intake.db import only_one, transaction
from intake.detect import warm_up as detect_warm_up
from intake.languages import LANGUAGES
from intake.languages import as_json as languages_json
from intake.models import AuditEntry, Case, Officer, OutboxMessage
from intake.outbox import is_opted_out
from intake.tension import check as check_tension
from intake.tension import current as current_tension
from intake.updates import due_list
from intake.updates import run_due as run_updates
from intake.whenparse import warm_up
from web import create_app
from web.config import default_server_threads, tension_settings
from web.extensions import services
from web.telegram import handle_update

log = logging.getLogger("hatereport")


def _app() -> Flask:
    try:
        return create_app()
    except Exception as exc:  # configuration errors: say what is wrong, not a traceback
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.option("--verbose", "-v", is_flag=True, help="Log more detail (never personal data).")
def main(verbose: bool) -> None:
    """hatereport: report hate crime and hate incidents, and work the cases."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)


#: The updates the bot asks Telegram for.
ALLOWED_UPDATES = ["message", "callback_query"]
#: How long the record of a processed SMS or Telegram message is kept (to spot redeliveries),
#: and the reply kept with it (to answer a redelivery the same way; it is personal data).
PROCESSED_KEPT = timedelta(days=7)
REPLIES_KEPT = timedelta(hours=1)


#: What :func:`run_jobs` reports, each a count.
JOB_COUNTS = ("allocated", "escalated", "expired", "updates_sent", "updates_for_officers",
              "updates_held_for_morning", "reminders", "risk_reviews", "tension_alerts")


def run_jobs(app: Flask) -> dict[str, int]:
    """The background jobs, once: allocate cases left unallocated, escalate
    unacknowledged alerts, queue the fortnightly updates and reminders due, prompt risk
    reviews gone past their date, alert managers to areas whose reports rose well above
    their usual level (docs/tension.md), delete abandoned conversations, forget old
    processed-message records and dead messages' words."""
    the = services(app)
    with only_one(the.db, "hatereport-jobs") as mine:
        if not mine:
            log.info("the jobs are running in another process; skipped")
            return {**dict.fromkeys(JOB_COUNTS, 0), "skipped": 1}
        return _jobs(app)


def _jobs(app: Flask) -> dict[str, int]:
    the = services(app)
    now = the.intake.clock()
    with transaction(the.sessions) as session:
        allocated = the.casework.allocate_waiting(session, now)
    with transaction(the.sessions) as session:
        escalated = the.casework.escalate_due(session, now)
    with transaction(the.sessions) as session:
        updates = run_updates(session, now, the.casework)
    with transaction(the.sessions) as session:
        risk_reviews = the.casework.alert_risk_reviews(session, now)
    # Tension monitoring (docs/tension.md): its own transaction.
    with transaction(the.sessions) as session:
        tension_alerts = len(check_tension(session, now, tension_settings(app.config),
                                           the.casework.settings.public_url))
    if allocated or escalated or risk_reviews or tension_alerts or updates.sent or (
            updates.reminders or updates.officer_to_contact):
        the.worker.kick()
    expired = the.intake.expire()
    the.intake.forget_processed(now - PROCESSED_KEPT, now - REPLIES_KEPT)
    the.outbox.purge(now - the.intake.engine.settings.conversation_ttl)
    return {"allocated": allocated, "escalated": escalated, "expired": expired,
            "updates_sent": updates.sent, "updates_for_officers": updates.officer_to_contact,
            "updates_held_for_morning": updates.held_for_morning,
            "reminders": updates.reminders, "risk_reviews": risk_reviews,
            "tension_alerts": tension_alerts}


#: What each alert channel needs in the configuration before anything goes out on it.
ALERT_PROVIDERS = {
    "email": "SMTP_HOST and SMTP_FROM",
    "sms": "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (or "
           "TWILIO_MESSAGING_SERVICE_SID)",
    "telegram": "TELEGRAM_BOT_TOKEN",
}


def unconfigured_channels(app: Flask, channels: set[str]) -> list[str]:
    """Those of ``channels`` with no provider configured (no sender on the outbox): what
    is queued on them waits until one is."""
    return sorted(channel for channel in channels if channel not in services(app).outbox.senders)


def warn_unconfigured_alerts(app: Flask) -> list[str]:
    """Log a warning for each channel active officers want alerts on that is not
    configured (channels only: no names or addresses). Returns those channels."""
    the = services(app)
    with the.sessions() as session:
        wanted = alert_channels_wanted(session)
    missing = unconfigured_channels(app, wanted)
    for channel in missing:
        log.warning("active officers want alerts by %s, which is not configured: their "
                    "alerts wait in the outbox until it is (set %s)", channel,
                    ALERT_PROVIDERS[channel])
    return missing


def warn_uncounted_cases(app: Flask) -> int:
    """Log one warning when cases from before the monitoring summary are not counted
    in it (the trends and published figures would leave them out)."""
    from intake import stats as monitoring

    with services(app).sessions() as session:
        uncounted = monitoring.unbuilt(session)
    if uncounted:
        log.warning("%d cases are not in the monitoring summary yet: run "
                    "`hatereport stats rebuild` once", uncounted)
    return uncounted


def _jobs_loop(app: Flask, stop: threading.Event) -> None:
    interval = min(float(app.config["EXPIRY_INTERVAL_SECONDS"]),
                   float(app.config["JOBS_INTERVAL_SECONDS"]))
    while not stop.is_set():
        try:
            run_jobs(app)
        except Exception:
            log.exception("background jobs failed; will retry")
        stop.wait(interval)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Worker threads of the WSGI server [default: 1 on SQLite, else 8].")
def serve(host: str, port: int, threads: int | None) -> None:
    """Serve the web chat and API with the production WSGI server (waitress).

    Also runs the background work: delivering the outbox, escalating unacknowledged
    alerts, deleting abandoned conversations. Use `worker` instead when several web
    processes share one database."""
    from waitress import serve as waitress_serve

    app = _app()
    if threads is None:
        threads = default_server_threads(app.config["DATABASE_URL"])
    warm_up([language.code for language in LANGUAGES])
    detect_warm_up([language.code for language in LANGUAGES])
    warn_unconfigured_alerts(app)
    warn_uncounted_cases(app)
    stop = threading.Event()
    worker = threading.Thread(target=_jobs_loop, args=(app, stop), name="jobs", daemon=True)
    worker.start()
    outbox = services(app).worker.start()
    click.echo(f"hatereport: web chat at http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="hatereport")
    finally:
        stop.set()
        outbox.stop()


@main.command()
def chat() -> None:
    """Hold the guided report on this terminal (for trying it and for training staff)."""
    app = _app()
    reference = TerminalAdapter().run(services(app).intake, sys.stdin, sys.stdout)
    if reference is None:
        click.echo("Left without sending. Unfinished answers are deleted when they expire.")


@main.group()
def cases() -> None:
    """Read submitted cases (they hold personal data: handle the output with care)."""


def _opted_out(session: Session, case: Case) -> bool:
    """Whether the reporter has opted out (SMS STOP, from the number they reported from or
    gave for texts) and not back in."""
    return any(is_opted_out(session, identity) for identity in (
        case.channel_identity_hash, case.contact_identity_hash) if identity)


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array of cases).")
@click.option("--limit", type=int, default=None, help="At most this many, newest first.")
def cases_list(as_json: bool, limit: int | None) -> None:
    """List cases, newest first."""
    app = _app()
    with transaction(services(app).sessions) as session:
        listed = list_cases(session, limit)
        found = [case_to_dict(case, opted_out=_opted_out(session, case)) for case in listed]
        session.add_all(AuditEntry(at=services(app).intake.clock(), action="view_case_cli",
                                   officer_id=None, case_id=case.id, data={"list": True})
                        for case in listed)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("No cases yet.")
        return
    for case in found:
        flags = " URGENT" if case["urgent"] else ""
        click.echo(f"{case['reference']}  {case['created_at']}  {case['channel']:<8} "
                   f"{case['classification']:<13} {case['status']}{flags}")


@cases.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
def cases_show(reference: str, as_json: bool) -> None:
    """Show one case by its reference."""
    app = _app()
    with transaction(services(app).sessions) as session:
        case = get_case(session, reference)
        if case is None:
            raise click.ClickException(f"no case with reference {reference}")
        data = case_to_dict(case, opted_out=_opted_out(session, case))
        # Every read of a case is audited, from the command line too.
        session.add(AuditEntry(at=services(app).intake.clock(), action="view_case_cli",
                               officer_id=None, case_id=case.id, data={}))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    timeline = data.pop("timeline")
    for key, value in data.items():
        if key == "interpreter":
            # Flagged for the officer (§4.14): the language to book an interpreter in.
            value = value["language"] if value else None
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        click.echo(f"{key.replace('_', ' '):>22}: {value if value not in (None, '') else '-'}")
    click.echo(f"{'timeline':>22}:")
    for event in timeline:
        details = ", ".join(f"{k}: {v}" for k, v in event.items()
                            if k not in ("at", "kind", "text") and v not in (None, "", []))
        words = f" \"{event['text']}\"" if event.get("text") else ""
        click.echo(f"{'':>24}{event['at']} {event['kind']}{words}"
                   f"{' (' + details + ')' if details else ''}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def languages(as_json: bool) -> None:
    """The shipped languages: code, English name, own name, text direction."""
    listed = languages_json()
    if as_json:
        click.echo(json.dumps(listed, ensure_ascii=False, indent=2))
        return
    for entry in listed:
        click.echo(f"{entry['code']:<4} {entry['direction']}  {entry['english_name']:<17} "
                   f"{entry['native_name']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--deliver", is_flag=True, help="Deliver what is due now, then report.")
def outbox(as_json: bool, deliver: bool) -> None:
    """Outbound messages by state: pending, held (opted out), sent, dead (gave up)."""
    app = _app()
    the = services(app)
    if deliver:
        while the.outbox.deliver_due().sent:
            pass
    with the.sessions() as session:
        counts: dict[str, int] = {
            str(status): int(count) for status, count in session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        }
        dead = [{"id": row.id, "channel": row.channel, "purpose": row.purpose,
                 "attempts": row.attempts, "last_error": row.last_error,
                 "created_at": row.created_at.isoformat(timespec="seconds") + "Z"}
                for row in session.scalars(select(OutboxMessage).where(
                    OutboxMessage.status == "dead").order_by(OutboxMessage.id))]
    report = {"counts": counts, "dead": dead}
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for state in ("pending", "sending", "waiting", "held", "sent", "dead"):
        click.echo(f"{state:>8}: {counts.get(state, 0)}")
    for row in dead:
        click.echo(f"dead #{row['id']} {row['channel']} {row['purpose']} after "
                   f"{row['attempts']} attempts: {row['last_error']}")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema (also done on every start)."""
    _app()
    click.echo("database is up to date")


@main.command()
def expire() -> None:
    """Delete abandoned conversations now (serve also does this in the background)."""
    app = _app()
    count = services(app).intake.expire()
    click.echo(f"deleted {count} abandoned conversation(s)")


@main.command()
@click.option("--set-webhook", "set_webhook", is_flag=True,
              help="Register HATEREPORT_PUBLIC_URL/telegram as the bot's webhook, with "
                   "TELEGRAM_WEBHOOK_SECRET as its secret token.")
@click.option("--delete-webhook", "delete_webhook", is_flag=True,
              help="Remove the bot's webhook.")
@click.option("--poll", is_flag=True,
              help="Run the bot by long polling, for machines without a public address "
                   "(removes the webhook first; Telegram allows one or the other).")
@click.option("--once", is_flag=True, help="With --poll: apply waiting updates, then exit.")
def telegram(set_webhook: bool, delete_webhook: bool, poll: bool, once: bool) -> None:
    """Connect the Telegram bot: by webhook (--set-webhook) or by long polling (--poll)."""
    if [set_webhook, delete_webhook, poll].count(True) != 1:
        raise click.UsageError("choose one of --set-webhook, --delete-webhook or --poll")
    app = _app()
    token = app.config.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN first")
    bot = make_bot(token, app.config.get("TELEGRAM_API_BASE_URL"))
    if set_webhook:
        public = app.config.get("PUBLIC_URL")
        secret = app.config.get("TELEGRAM_WEBHOOK_SECRET")
        if not public or not secret:
            raise click.ClickException(
                "set HATEREPORT_PUBLIC_URL (https://...) and TELEGRAM_WEBHOOK_SECRET first")
        url = f"{public.rstrip('/')}/telegram"
        _run_async(_set_webhook(bot, url, secret))
        click.echo(f"webhook set: {url}")
    elif delete_webhook:
        _run_async(_delete_webhook(bot))
        click.echo("webhook deleted")
    else:
        worker = services(app).worker.start()
        click.echo("polling Telegram for updates (Ctrl+C to stop)")
        try:
            _run_async(_poll(app, bot, once))
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()
        if once:
            # Whatever the updates queued is sent before exiting.
            while services(app).outbox.deliver_due().sent:
                pass


def _run_async(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a Bot API coroutine to completion in a thread of its own (so it works even when
    the caller's thread already runs an event loop, as an embedding program's may)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)  # the usual case: Ctrl+C stops polling cleanly
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-cli") as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _set_webhook(bot: Bot, url: str, secret: str) -> None:
    async with bot:
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)


async def _delete_webhook(bot: Bot) -> None:
    async with bot:
        await bot.delete_webhook()


async def _poll(app: Flask, bot: Bot, once: bool) -> None:
    """Long-poll getUpdates and apply each update as the webhook would."""
    async with bot:
        await bot.delete_webhook()
        offset: int | None = None
        while True:
            updates = await bot.get_updates(offset=offset, timeout=0 if once else 30,
                                            allowed_updates=ALLOWED_UPDATES)
            for update in updates:
                handle_update(app, update.to_dict())
                offset = update.update_id + 1
            if once:
                if offset is not None:  # confirm what was applied
                    await bot.get_updates(offset=offset, timeout=0)
                return


@main.command()
@click.option("--once", is_flag=True,
              help="Do what is due now (jobs, then the outbox until nothing is due), then exit.")
def worker(once: bool) -> None:
    """Run the background work on its own: the outbox and the jobs (for deployments with
    several web processes on one database; `serve` runs it itself otherwise)."""
    app = _app()
    the = services(app)
    warn_unconfigured_alerts(app)
    if once:
        done = run_jobs(app)
        sent = 0
        while (report := the.outbox.deliver_due()).sent or report.retrying:
            sent += report.sent
            if not report.sent:
                break
        click.echo(f"allocated {done['allocated']}, escalated {done['escalated']}, "
                   f"updates queued {done['updates_sent']}, "
                   f"updates for officers {done['updates_for_officers']}, held for the "
                   f"morning {done['updates_held_for_morning']}, reminders "
                   f"{done['reminders']}, risk reviews overdue {done['risk_reviews']}, "
                   f"tension alerts {done['tension_alerts']}, "
                   f"expired {done['expired']}, messages sent {sent}")
        return
    stop = threading.Event()
    jobs = threading.Thread(target=_jobs_loop, args=(app, stop), name="jobs", daemon=True)
    jobs.start()
    outbox_worker = the.worker.start()
    click.echo("hatereport worker: delivering the outbox and running jobs (Ctrl+C to stop)")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        outbox_worker.stop()


@main.group()
def officers() -> None:
    """Officers and managers: who works cases, where, and how they are alerted."""


@officers.command("add")
@click.option("--name", required=True, help="Their name as officers and reporters see it.")
@click.option("--email", required=True, help="Sign-in name and email address.")
@click.option("--phone", help="Mobile number in international form (+44...), for SMS alerts.")
@click.option("--telegram-chat", "telegram_chat", help="Telegram chat id, for Telegram alerts.")
@click.option("--areas", default="", help="Comma-separated areas they cover, e.g. 'Abbey,Darley'.")
@click.option("--role", type=click.Choice(ROLES), default="officer", show_default=True)
@click.option("--duty", is_flag=True, help="On the duty rota: urgent cases and cases with no area.")
@click.option("--alerts", type=click.Choice(ALERT_CHANNELS), default="email",
              show_default=True, help="How they are alerted to new cases.")
@click.option("--password-stdin", "password_stdin", is_flag=True,
              help="Read the password from standard input instead of asking for it.")
def officers_add(name: str, email: str, phone: str | None, telegram_chat: str | None,
                 areas: str, role: str, duty: bool, alerts: str, password_stdin: bool) -> None:
    """Add an officer or manager (a password is asked for, twice)."""
    app = _app()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    known = set(services(app).intake.engine.settings.areas)
    wanted = [area.strip() for area in areas.split(",") if area.strip()]
    unknown = [area for area in wanted if area not in known]
    if unknown:
        raise click.ClickException(
            f"unknown area(s): {', '.join(unknown)} (areas: {', '.join(sorted(known))})")
    the = services(app)
    try:
        with transaction(the.sessions) as session:
            officer = add_officer(
                session, name=name, email=email, password=password, now=the.intake.clock(),
                role=role, areas=wanted, duty=duty, alerts=alerts, phone=phone,
                telegram_chat=telegram_chat)
            summary = _officer_line(officer)
            channel = alert_channel(officer)
    except OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {summary}")
    if unconfigured_channels(app, {channel}):
        click.echo(f"warning: alerts by {channel} are not configured: this officer's alerts "
                   f"will wait in the outbox until they are (set {ALERT_PROVIDERS[channel]})",
                   err=True)


@officers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def officers_list(as_json: bool) -> None:
    """Officers and managers, with their areas, duty, alerts and open caseload."""
    app = _app()
    the = services(app)
    with the.sessions() as session:
        loads = open_caseloads(session)
        found: list[dict[str, Any]] = [
                 {"name": officer.name, "email": officer.email, "role": officer.role,
                  "areas": list(officer.areas), "duty": officer.duty, "alerts": officer.alerts,
                  "active": officer.active, "open_cases": loads.get(officer.id, 0)}
                 for officer in list_officers(session)]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("No officers yet: add one with `hatereport officers add`.")
    for entry in found:
        flags = [entry["role"]] + (["duty"] if entry["duty"] else []) + (
            [] if entry["active"] else ["DISABLED"])
        click.echo(f"{entry['email']:<32} {entry['name']:<24} {' '.join(flags):<20} "
                   f"alerts: {entry['alerts']:<8} open: {entry['open_cases']:<3} "
                   f"areas: {', '.join(entry['areas']) or '-'}")


@officers.command("disable")
@click.argument("email")
def officers_disable(email: str) -> None:
    """Stop an officer signing in and receiving new cases."""
    app = _app()
    try:
        with transaction(services(app).sessions) as session:
            disable_officer(session, email)
    except OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"disabled {email}")


def _officer_line(officer: Officer) -> str:
    return (f"{officer.role} {officer.name} <{officer.email}>, alerts by {officer.alerts}, "
            f"areas: {', '.join(officer.areas) or '-'}{', on duty' if officer.duty else ''}")


@cases.command("ack")
@click.argument("reference")
@click.option("--officer", "email", required=True, help="The acknowledging officer's email.")
def cases_ack(reference: str, email: str) -> None:
    """Acknowledge a case's alert (stops its escalation to managers)."""
    app = _app()
    the = services(app)
    with transaction(the.sessions) as session:
        case = get_case(session, reference)
        officer = find_officer(session, email)
        if case is None:
            raise click.ClickException(f"no case with reference {reference}")
        if officer is None or not officer.active:
            raise click.ClickException(f"no active officer with email {email}")
        if officer.role != "manager" and case.officer_id != officer.id:
            raise click.ClickException("only the case's officer or a manager can acknowledge it")
        fresh = the.casework.acknowledge(session, case, officer, the.intake.clock())
    click.echo("acknowledged" if fresh else "already acknowledged")


@main.group()
def updates() -> None:
    """Fortnightly updates to reporters."""


@updates.command("due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def updates_due(as_json: bool) -> None:
    """Open cases and when their next update is due, and how it will go."""
    app = _app()
    the = services(app)
    with the.sessions() as session:
        rows = due_list(session, the.intake.clock())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No open cases.")
    for row in rows:
        late = " OVERDUE" if row["overdue"] else ""
        how = row["by"] if row["by"] != "officer" else f"officer ({row['why_officer']})"
        click.echo(f"{row['reference']}  due {row['due_at']}{late}  by {how}")


# -- tension monitoring (docs/tension.md) -------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array of areas).")
def tension(as_json: bool) -> None:
    """Reports per area now, under the tension monitoring rule (docs/tension.md).

    For each area: the reports in the window (the last HATEREPORT_TENSION_WINDOW_DAYS
    days), in the baseline (the HATEREPORT_TENSION_BASELINE_DAYS days before it), the
    reports expected in a window at the baseline's rate (at least
    HATEREPORT_TENSION_BASELINE_FLOOR), the chance of at least the observed count at
    that rate (Poisson), and whether the area is elevated: at least
    HATEREPORT_TENSION_MIN_REPORTS reports and a chance below HATEREPORT_TENSION_P_VALUE.
    Elevated areas are alerted to managers by the jobs. Counts only: no case is read."""
    app = _app()
    the = services(app)
    settings = tension_settings(app.config)
    with the.sessions() as session:
        figures = current_tension(session, the.intake.clock(), settings,
                                  the.intake.engine.settings.areas)
    rows = [{"area": row.area, "observed": row.observed, "baseline": row.baseline,
             "expected": round(row.expected, 3), "p_value": row.p, "elevated": row.elevated}
            for row in figures]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"window: last {settings.window_days} days; baseline: the "
               f"{settings.baseline_days} days before; elevated: at least "
               f"{settings.min_reports} reports and p < {settings.p_value:g}")
    width = max([len("area"), len("(no area)"), *(len(row.area or "") for row in figures)])
    click.echo(f"{'area':<{width}}  {'observed':>8}  {'baseline':>8}  {'expected':>8}  "
               f"{'p-value':>9}  elevated")
    for row in figures:
        click.echo(f"{row.area or '(no area)':<{width}}  {row.observed:>8}  "
                   f"{row.baseline:>8}  {row.expected:>8.2f}  {row.p:>9.3g}  "
                   f"{'YES' if row.elevated else 'no'}")


@main.group()
def stats() -> None:
    """The monitoring summary behind the trends page and the published figures."""


@stats.command("rebuild")
def stats_rebuild() -> None:
    """Recompute the summary from every case and its timeline (first contact, outcome,
    updates on time, repeat places and victims), in one transaction. Run it once after
    upgrading from a version without the summary, or after changing cases outside the
    service; stop the service first on PostgreSQL."""
    from intake import stats as monitoring

    app = _app()
    the = services(app)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done:,} of {total:,} cases", nl=False, err=True)

    with transaction(the.sessions) as session:
        counted = monitoring.rebuild(session, progress)
    click.echo("", err=True)
    click.echo(f"counted {counted:,} cases in {time.monotonic() - started:.1f} s")


@stats.command("check")
def stats_check() -> None:
    """Compare the summary with what the cases count now; exit 1 listing the cells that
    differ (run `hatereport stats rebuild` to correct them)."""
    from intake import stats as monitoring

    app = _app()
    with services(app).sessions() as session:
        unbuilt = monitoring.unbuilt(session)
        differences = monitoring.check(session)
    if unbuilt:
        click.echo(f"{unbuilt:,} cases are not counted yet")
    for (month, area, dim, value), n in sorted(differences.items()):
        click.echo(f"{month} {area or '(no area)'} {dim}={value}: the summary is "
                   f"{'short of' if n > 0 else 'over by'} {abs(n)}")
    if differences or unbuilt:
        raise SystemExit(1)
    click.echo("the summary agrees with the cases")
