"""The ``hatereport`` command: serve, chat on the terminal, read cases, maintain the database."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
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
from intake.db import transaction
from intake.detect import warm_up as detect_warm_up
from intake.languages import LANGUAGES
from intake.languages import as_json as languages_json
from intake.models import Case, OutboxMessage
from intake.outbox import is_opted_out
from intake.whenparse import warm_up
from web import create_app
from web.config import default_server_threads
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


def _expiry_loop(app: Flask, stop: threading.Event) -> None:
    interval = float(app.config["EXPIRY_INTERVAL_SECONDS"])
    while not stop.is_set():
        try:
            the = services(app)
            now = the.intake.clock()
            the.intake.expire()
            the.intake.forget_processed(now - PROCESSED_KEPT, now - REPLIES_KEPT)
            the.outbox.purge(now - the.intake.engine.settings.conversation_ttl)
        except Exception:
            log.exception("expiring abandoned conversations failed; will retry")
        stop.wait(interval)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Worker threads of the WSGI server [default: 1 on SQLite, else 8].")
def serve(host: str, port: int, threads: int | None) -> None:
    """Serve the web chat and API with the production WSGI server (waitress)."""
    from waitress import serve as waitress_serve

    app = _app()
    if threads is None:
        threads = default_server_threads(app.config["DATABASE_URL"])
    warm_up([language.code for language in LANGUAGES])
    detect_warm_up([language.code for language in LANGUAGES])
    stop = threading.Event()
    worker = threading.Thread(target=_expiry_loop, args=(app, stop), name="expiry", daemon=True)
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
    """Whether the reporter's channel identity has opted out (SMS STOP) and not back in."""
    return case.channel_identity_hash is not None and is_opted_out(
        session, case.channel_identity_hash)


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array of cases).")
@click.option("--limit", type=int, default=None, help="At most this many, newest first.")
def cases_list(as_json: bool, limit: int | None) -> None:
    """List cases, newest first."""
    app = _app()
    with transaction(services(app).sessions) as session:
        found = [case_to_dict(case, opted_out=_opted_out(session, case))
                 for case in list_cases(session, limit)]
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
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        if key == "interpreter":
            # Flagged for the officer (§4.14): the language to book an interpreter in.
            value = value["language"] if value else None
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        click.echo(f"{key.replace('_', ' '):>22}: {value if value not in (None, '') else '-'}")


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
    for state in ("pending", "sending", "held", "sent", "dead"):
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
