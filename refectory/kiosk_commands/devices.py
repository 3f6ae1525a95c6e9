"""The kiosk commands that drive devices: the counter loop, and the cashier's operations that
print a receipt and open the cash drawer (`topup`, `reverse`, `reprint`, `print-report`,
`print-test`).

Kept apart from `kiosk/cli.py` because they open the hardware the configuration names; the
kiosk core itself never imports a driver. Money is always committed before anything is printed.
"""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path

import click

import hardware
from domain.clock import parse_day_within_window, service_date
from domain.messages import Message
from domain.money import parse_amount
from domain.receipts import Receipt
from kiosk.cashier_desk import CashierDesk
from kiosk.config import KioskConfig, load_config
from kiosk.counter import Counter, CounterTap
from kiosk.journal import configure_logging
from kiosk.printing import PrintOutcome, deliver
from kiosk.receipts import cash_report_receipt, reprint_receipt, test_receipt
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import RoundReport
from kiosk.sync_scheduler import SyncScheduler
from kiosk.sync_store import sync_state
from kiosk.texts import reversal_lines, tap_payload, topup_lines
from kiosk.watchdog import Notifier
from refectory.cli_support import _, _emit, json_option
from refectory.kiosk_commands.ledger import (
    _now,
    _service,
    _with_options,
    at_option,
    cashier_options,
    data_option,
    reports_errors,
)


def _line(payload: dict) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))


def _printer(config: KioskConfig):
    from hardware.printer import (
        open_printer,  # python-escpos loads only for commands that print
    )

    return open_printer(config.printer.connection, paper=config.printer.paper, profile=config.printer.profile)


def _print(config: KioskConfig, receipt: Receipt) -> PrintOutcome:
    return deliver(_printer(config), receipt, open_drawer=False)


def _desk(data_dir: Path) -> CashierDesk:
    """The cashier's desk for one command: the printer is opened (not yet connected) before
    anything is committed, so a bad printer setting stops the command with nothing written."""
    config = load_config(data_dir)
    return CashierDesk(_service(data_dir), _printer(config), config.canteen, _,
                       cash_drawer=config.printer.cash_drawer)


def _print_lines(outcome: PrintOutcome, receipt_no: int | None = None, data_dir: Path | None = None) -> list[str]:
    """What became of the print; for a committed receipt that did not print, the command that
    prints it again."""
    if outcome.printed:
        return [_("Receipt printed.")]
    lines = [_("Receipt NOT printed: {problem}").format(problem=outcome.problem.render(_))]
    if receipt_no is not None:
        command = f"refectory kiosk reprint --data {shlex.quote(str(data_dir))} {receipt_no}"
        lines.append(_("The operation is recorded. Reprint it with: {command}").format(command=command))
    return lines


def _print_payload(outcome: PrintOutcome) -> dict:
    return {"printed": outcome.printed, "drawer_opened": outcome.drawer_opened,
            "print_problem": outcome.problem.render(_) if outcome.problem else None}


def reader_from_config(data_dir: Path):
    reader = load_config(data_dir).reader
    return hardware.open_reader(reader.kind, readers=reader.readers, device=reader.device, fmt=reader.format,
                                socket=reader.socket)


@click.command()
@data_option
@reports_errors
def listen(data_dir: Path) -> None:
    """Run the counter without a screen: each badge read is a tap, printed as one JSON line.

    Reader status changes and unreadable cards are printed as JSON lines too ("event": "reader").
    The log (one line per tap and per sync round, no names) goes to stderr. Under systemd it
    reports READY=1 once serving and pings the watchdog from its loop. Stops on Ctrl-C or SIGTERM.
    """
    configure_logging()
    store = Store.open(data_dir)
    counter = Counter(KioskService(store))
    reader = reader_from_config(data_dir)
    scheduler = _sync_scheduler(data_dir, store, counter)
    notifier = Notifier.from_environ()

    def stop(*_args) -> None:
        counter.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def on_tap(tap: CounterTap) -> None:
        _line({"event": "tap", "reader": tap.read.reader, "overhead_ms": round(tap.overhead_ms, 3),
               **tap_payload(tap.result, _)})

    def on_event(kind: str, event) -> None:
        if kind == "sync":
            outcome = event.to_dict() if isinstance(event, RoundReport) else {"error": event.render(_)}
            _line({"event": "sync", "ok": isinstance(event, RoundReport), **outcome})
            return
        message = event.message.render(_) if isinstance(event.message, Message) else str(event.message)
        _line({"event": "reader", "reader": event.reader, "status": event.status and str(event.status),
               "message": message})
        notifier.status(message)

    reader.start(counter.on_badge, counter.on_notice)
    try:
        notifier.ready()
        counter.run(on_tap, on_event, on_quiet=scheduler.watch_cash if scheduler else None,
                    on_turn=notifier.ping, turn_every=notifier.ping_every)
    finally:
        notifier.stopping()
        reader.stop()
        if scheduler:
            scheduler.stop()
        store.close()
        notifier.close()


def _sync_scheduler(data_dir: Path, store: Store, counter: Counter) -> SyncScheduler | None:
    """Background sync for an enrolled kiosk; outcomes are reported through the counter loop."""
    if not sync_state(store).token:
        return None
    sync = load_config(data_dir).sync
    scheduler = SyncScheduler(data_dir, interval=sync.interval_seconds, long_poll=sync.long_poll,
                              on_round=lambda outcome: counter.post("sync", outcome), watch_store=store)
    scheduler.start()
    return scheduler


@click.command()
@data_option
@_with_options(cashier_options)
@click.option("--uid", default=None, help="Pupil's badge UID.")
@click.option("--pupil", "pupil_id", default=None, help="Pupil id.")
@click.option("--amount", required=True, help="Cash amount in CHF, e.g. 20 or 20.50.")
@at_option
@json_option
@reports_errors
def topup(data_dir: Path, cashier_id: str, pin: str, uid: str | None, pupil_id: str | None, amount: str,
          at: str | None, as_json: bool) -> None:
    """Credit a cash top-up, then open the drawer and print the receipt (a failed print keeps the top-up)."""
    if (uid is None) == (pupil_id is None):
        raise click.UsageError(_("Give exactly one of --uid or --pupil."))
    desk = _desk(data_dir)
    cents = parse_amount(amount)  # the format only: limits and the 0.05 rule are the core's
    session = desk.unlock(cashier_id, pin)
    pupil = desk.service.pupil_for(uid=uid, pupil_id=pupil_id)
    outcome = desk.top_up(pupil.pupil_id, cents, pin=pin, now=_now(at))  # the drawer takes the PIN too
    done = outcome.operation
    payload = {
        "ok": True,
        "entry_id": done.entry.id,
        "receipt_no": done.receipt_no,
        "amount_cents": done.entry.amount_cents,
        "balance_cents": done.balance_cents,
        "pupil_id": pupil.pupil_id,
        "cashier_id": session.cashier_id,
        **_print_payload(outcome.printed),
    }
    _emit(as_json, payload, [*topup_lines(done, _), _("Operation: {entry_id}").format(entry_id=done.entry.id),
                             *_print_lines(outcome.printed, done.receipt_no, data_dir)])


@click.command()
@data_option
@_with_options(cashier_options)
@click.option("--entry", "entry_id", required=True, help="Id (UUID) of the meal or top-up to cancel.")
@click.option("--reason", required=True, help="Why it is cancelled.")
@at_option
@json_option
@reports_errors
def reverse(data_dir: Path, cashier_id: str, pin: str, entry_id: str, reason: str, at: str | None,
            as_json: bool) -> None:
    """Cancel a same-day meal or cash top-up with a reversal entry (nothing is deleted)."""
    desk = _desk(data_dir)
    desk.unlock(cashier_id, pin)
    outcome = desk.reverse(entry_id, reason, pin=pin, now=_now(at))
    done = outcome.operation
    payload = {
        "ok": True,
        "entry_id": done.entry.id,
        "reverses": done.original.id,
        "amount_cents": done.entry.amount_cents,
        "receipt_no": done.receipt_no,
        "balance_cents": done.balance_cents,
        "pupil_id": done.entry.account_id,
    }
    lines = reversal_lines(done, _)
    if outcome.printed is not None:  # cash handed back: drawer and cancellation receipt
        payload.update(_print_payload(outcome.printed))
        lines += _print_lines(outcome.printed, done.receipt_no, data_dir)
    _emit(as_json, payload, lines)


@click.command()
@data_option
@click.argument("receipt_no", type=int)
@json_option
@reports_errors
def reprint(data_dir: Path, receipt_no: int, as_json: bool) -> None:
    """Print a receipt again from the ledger, marked "Duplicata" (the drawer stays shut)."""
    config = load_config(data_dir)
    facts = _service(data_dir).receipt(receipt_no)
    outcome = _print(config, reprint_receipt(facts, config.canteen, _))
    _emit(as_json, {"ok": outcome.printed, "receipt_no": receipt_no, **_print_payload(outcome)},
          _print_lines(outcome))
    if not outcome.printed:
        raise SystemExit(1)


@click.command("print-report")
@data_option
@click.option("--date", "day", default=None, help="Day YYYY-MM-DD (default: today).")
@at_option
@json_option
@reports_errors
def print_report(data_dir: Path, day: str | None, at: str | None, as_json: bool) -> None:
    """Print the end-of-day cash report of this kiosk."""
    config = load_config(data_dir)
    now = _now(at)
    report = _service(data_dir).cash_report(parse_day_within_window(day) if day else service_date(now))
    outcome = _print(config, cash_report_receipt(report, config.canteen, _, printed_at=now))
    _emit(as_json, {"ok": outcome.printed, "day": report.day.isoformat(), **_print_payload(outcome)},
          _print_lines(outcome))
    if not outcome.printed:
        raise SystemExit(1)


@click.command("print-test")
@data_option
@json_option
@reports_errors
def print_test(data_dir: Path, as_json: bool) -> None:
    """Print a test page (accents, an amount, the canteen's header) and say what the printer reports."""
    config = load_config(data_dir)
    printer = _printer(config)
    status = printer.status()
    kiosk_id = _service(data_dir).kiosk_id
    outcome = deliver(printer, test_receipt(config.canteen, kiosk_id, _now(None), _), open_drawer=False)
    _emit(as_json, {"ok": outcome.printed, "status": str(status.state), "status_message": status.message.render(_),
                    **_print_payload(outcome)},
          [_("Printer: {status}").format(status=status.message.render(_)), *_print_lines(outcome)])
    if not outcome.printed:
        raise SystemExit(1)

