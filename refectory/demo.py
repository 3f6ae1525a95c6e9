"""`refectory demo`: a service day at the counter, on the real kiosk core and a real database.

Everything comes from embedded defaults (a fictional school); nothing on the machine is touched
outside the demo's data folder. A sync server runs on a loopback port: the kiosk enrolls, pulls its
pupils and cashier from it, and sends it the day's operations at the end. Badges are presented to
the virtual reader and go through the counter loop as a real reader's would; receipts come out of
the virtual printer (text and PNG in the data folder's `receipts/`). Then the parents' portal of
the same server is open for a demo family (its login is printed) while the kiosk screen runs, or
until Ctrl+C without a display.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from babel.dates import format_date

from domain.clock import local, parse_instant, service_date, utc_now
from domain.i18n import chosen_language, gettext_for, ngettext_for
from hardware.printer import open_printer
from hardware.readers import VirtualReader
from kiosk.config import load_config
from kiosk.counter import Counter
from kiosk.printing import deliver
from kiosk.receipts import cash_report_receipt, reversal_receipt, topup_receipt
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from kiosk.texts import report_lines, reversal_lines, tap_lines, topup_lines

from .demo_server import DemoServer
from .payment_standin import PaymentStandIn

DEMO_ROSTER = """pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id,parent_email
P001,Léa,Müller,5P,primary,04A1B2C3,,F001,famille.mueller@example.ch
P002,Noé,Favre,9S,secondary,04112233445566,Sans gluten,F002,famille.favre@example.ch
P003,Zoé,Rochat,5P,primary,0A0B0C0D,,F001,famille.mueller@example.ch
S001,Ariane,Berset,Cuisine,staff,DEADBEEF,,,
"""
DEMO_CASHIER = ("caisse1", "Sandra Morel", "2580")  # id, name, PIN
DEMO_MANAGER = ("direction", "Direction de démonstration")  # the back office's login, its password printed
DEMO_MARK = ".refectory-demo"  # in a folder the demo made: the only kind it deletes
DEMO_FAMILY = "F001"  # the Müller family: Léa and Zoé
DEMO_CANTEEN = {"name": "Restaurant scolaire des Tilleuls", "address": "Chemin des Tilleuls 4, 1234 Démoville",
                "phone": "000 000 00 00", "email": "cantine@example.ch", "contact": "Sandra Morel",
                "hours": "avant 11 h 30 ou dès 14 h"}
DEMO_QRBILL = {"iban": "CH44 3199 9123 0008 8901 2",  # the QR-bill guidelines' example QR-IBAN: no real account
               "name": "Restaurant scolaire des Tilleuls", "street": "Chemin des Tilleuls", "house_num": "4",
               "pcode": "1234", "city": "Démoville"}
DEMO_DISHES = (("Émincé de poulet, riz", "milk", "origin: poulet Suisse"),
               ("Lasagne aux légumes", "gluten,milk,eggs", "vegetarian"),
               ("Filet de colin, pommes vapeur", "fish", ""),
               ("Risotto aux champignons", "milk,celery", "vegetarian"),
               ("Curry de lentilles", "mustard", "vegan"))
DEMO_CONFIG = """[canteen]
name = "Restaurant scolaire des Tilleuls"
address = ["Chemin des Tilleuls 4", "1234 Démoville"]
phone = "000 000 00 00"

[reader]
kind = "virtual"

[printer]
connection = "virtual:receipts"
paper = "80mm"
"""


def first_service_day(today: datetime) -> datetime:
    """Next Monday–Friday at 11:50 Zurich time, as UTC (the demo replays a lunch service)."""
    return _school_day_at(service_date(today), 11, 50, today)


def _school_day_at(day, hour: int, minute: int, near: datetime) -> datetime:
    """`day`, or the first Monday–Friday after it, at hour:minute Zurich time, as UTC."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=local(near).tzinfo)
    return wall.astimezone(UTC)


def kiosk_screen_instant(replay_start: datetime) -> datetime:
    """Where the demo's kiosk screen stops its clock: the school day after the replay, at 11:45,
    inside the lunch service. Whatever the real day and hour, a demo tap is then served (the
    replay's pupils have eaten on its own day), and the clock never runs out of the service."""
    return _school_day_at(service_date(replay_start) + timedelta(days=1), 11, 45, replay_start)


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo kiosk here (default: a temporary folder, removed at the end).")
@click.option("--no-window", is_flag=True, help="Only the replay in the terminal; do not open the kiosk screen.")
@click.option("--exit", "exit_after", is_flag=True, help="End after the replay instead of keeping the portal open.")
@click.option("--at", "at", default=None,
              help="Run the demo as if now were this ISO 8601 instant (Zurich time if no offset).")
def demo(data_dir: Path | None, no_window: bool, exit_after: bool, at: str | None) -> None:
    """Replay a lunch service on a fresh demo kiosk, then open the kiosk screen on it (when there is
    a display) with a panel of demo badges and the virtual printer's receipts, and the parents'
    portal for a demo family."""
    ctx = click.get_current_context()
    language = ctx.find_root().params.get("lang") or chosen_language()
    keep = data_dir is not None
    folder = data_dir or Path(tempfile.mkdtemp(prefix="refectory-demo-"))
    if folder.exists() and any(folder.iterdir()):
        if not (folder / DEMO_MARK).exists():  # a real kiosk's folder, or anybody's files: never removed
            _ = gettext_for(language)
            click.echo(_("Error: {message}").format(message=_(
                "{folder} already holds files the demo did not make: give a new or empty folder.").format(
                folder=folder)), err=True)
            sys.exit(1)
        shutil.rmtree(folder)  # the previous demo's, made again
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DEMO_MARK).write_text("Made by `refectory demo`, which replaces this folder when run on it again.\n",
                                    encoding="utf-8")
    try:
        _run_demo(folder, language, window=not no_window, wait=not exit_after,
                  now=parse_instant(at) if at else utc_now())
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if keep:
        _ = gettext_for(language)
        click.echo("\n" + _("Kiosk database: {path}").format(path=folder / "kiosk.db"))


def _run_demo(folder: Path, language: str, *, window: bool, wait: bool, now: datetime) -> None:
    start = first_service_day(now)
    clock = [start]
    started = utc_now()
    provider = PaymentStandIn().start()  # online payments go to a local stand-in of Datatrans
    server = DemoServer(folder / "server", DEMO_ROSTER, DEMO_CASHIER, start, canteen=DEMO_CANTEEN,
                        qrbill=DEMO_QRBILL, family_id=DEMO_FAMILY, menus_csv=_demo_menus(service_date(start)),
                        payments=provider.config(), manager=DEMO_MANAGER,
                        # the replay's time, then on from its end: the portal's "now" follows the service it shows
                        clock=lambda: clock[0] + (utc_now() - started))
    try:
        _service_day(folder, server, clock, language)
        _announce_portal(server, folder, language)
        if window and _open_kiosk_screen(folder, kiosk_screen_instant(start), language):
            return
        if wait:
            _serve_until_interrupted(language)
    finally:
        server.stop()
        provider.stop()


def _demo_menus(day) -> str:
    """The replay's week and the next, a dish a day: the kiosk screen's day has its menu too."""
    monday = day - timedelta(days=day.weekday())
    lines = ["date,course,dish,allergens,labels"]
    for week in (0, 7):
        for n, (dish, allergens, labels) in enumerate(DEMO_DISHES):
            lines.append(f'{monday + timedelta(days=week + n)},Plat du jour,"{dish}","{allergens}",{labels}')
    return "\n".join(lines) + "\n"


def _announce_portal(server: DemoServer, folder: Path, language: str) -> None:
    _ = gettext_for(language)
    click.echo("")
    click.echo(click.style(_("Parents' portal: {url}").format(url=server.url + "/"), bold=True))
    click.echo(_("Demo family (Léa Müller and Zoé Rochat): login {login}, password {password}").format(
        login=server.letter.login, password=server.letter.password))
    click.echo(_("Back office: {url}, login {login}, password {password}").format(
        url=server.url + "/manage/", login=server.manager[0], password=server.manager[1]))
    click.echo(_("At the counter (refectory kiosk … --data {folder}): cashier {cashier}, PIN {pin}; the server's"
                 " commands take --instance {instance}.").format(folder=folder, cashier=DEMO_CASHIER[0],
                                                                   pin=DEMO_CASHIER[2], instance=folder / "server"))
    click.echo(_("Confirmation e-mails are written to {folder} (no mail server in the demo).").format(
        folder=folder / "server" / "mail"))
    click.echo(_("Online payments go to a local stand-in of the payment provider (Datatrans): "
                 "choose Pay, Decline or Cancel on its page."))


def _serve_until_interrupted(language: str) -> None:
    _ = gettext_for(language)
    click.echo(_("The portal stays open until Ctrl+C."))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("")


def _open_kiosk_screen(folder: Path, at: datetime, language: str) -> bool:
    """The kiosk screen on the demo's kiosk, its clock stopped at `at` (lunchtime on a school day,
    whenever the demo runs; the screen says so); the server keeps running for its sync and the
    portal. False when there is no display."""
    from kiosk_ui.run import has_display, run_kiosk
    from refectory.kiosk_commands.devices import reader_from_config

    _ = gettext_for(language)
    if not has_display():
        click.echo("\n" + _("No display here: the kiosk screen is not opened (headless). On a machine with a "
                            "screen, the demo opens it with a panel of demo badges."))
        return False
    click.echo("\n" + _("Opening the kiosk screen: tap the demo badges on the right; close the window to end."))
    run_kiosk(folder, lambda: reader_from_config(folder), demo=True, windowed=True, language=language,
              clock=lambda: at, fixed_clock=True)
    return True


def _service_day(folder: Path, server: DemoServer, clock: list[datetime], language: str) -> None:
    _, ngettext = gettext_for(language), ngettext_for(language)
    start = clock[0]
    store = Store.open(folder, create=True)
    store.initialize("DEMO-K1")
    agent = SyncAgent(store)
    agent.enroll(server.url, server.enrollment_code("DEMO-K1", start))
    server.mark_lost("DEADBEEF", "Perdu à la piscine", start)  # in the back office: every kiosk learns it
    first = agent.run_round()  # pupils, badges and the cashier come from the server
    click.echo(_("Kiosk DEMO-K1 enrolled with the server at {url}: {changes}.").format(
        url=server.url, changes=ngettext("{count} change received", "{count} changes received", first.pulled).format(
            count=first.pulled)))
    service = KioskService(store, clock=lambda: clock[0])
    cashier = service.login(DEMO_CASHIER[0], DEMO_CASHIER[2])
    (folder / "kiosk.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    config = load_config(folder)
    printer = open_printer(config.printer.connection, paper=config.printer.paper)
    counter, taps = Counter(service), []
    reader = VirtualReader()
    reader.start(lambda read: taps.append(counter.tap(read)))

    def at(minutes: int) -> None:
        clock[0] = start + timedelta(minutes=minutes)

    def say(who: str, lines: list[str]) -> None:
        click.echo(f"{local(clock[0]):%H:%M}  {who:<22} {lines[0]}")
        for line in lines[1:]:
            click.echo(f"{'':30} {line.strip()}")

    def tap(uid: str, note: str) -> None:
        reader.inject(uid)  # as the badge reader would: the counter decides and debits
        result = taps[-1].result
        first, *hints = tap_lines(result, _)
        colour = "green" if result.verdict.served else "red"
        say(_("badge") + " " + result.uid, [click.style(first, fg=colour), *hints])
        click.echo(click.style(f"{'':32}({note})", dim=True))

    def cash(pupil_id: str, cents: int, show_receipt: bool = False):
        done = service.cash_topup(cashier, pupil_id, cents)
        outcome = deliver(printer, topup_receipt(done, config.canteen, cashier.name, _), open_drawer=True)
        say(_("cashier"), [*topup_lines(done, _), _("Receipt printed.") if outcome.printed
                           else outcome.problem.render(_)])
        if show_receipt:
            receipt = sorted((folder / "receipts").glob("*.txt"), key=lambda p: p.stat().st_mtime)[-1]
            for line in receipt.read_text(encoding="utf-8").splitlines():
                click.echo(f"{'':32}│ {line}")
        return done

    day = format_date(local(start).date(), format="full", locale=language)
    click.echo(click.style(f"Refectory — {day}", bold=True))
    at(0)
    tap("04A1B2C3", _("Léa has no money on her account yet"))
    cash("P001", 20_00, show_receipt=True)
    at(1)
    tap("04:a1:b2:c3", _("same badge, read in another format"))
    at(2)
    tap("04A1B2C3", _("second pass: nothing is debited"))
    cash("P002", 50_00)
    tap("04112233445566", _("Noé has a diet: special meal banner"))
    wrong = cash("P003", 100_00)
    cancelled = service.reverse(cashier, wrong.entry.id, _("wrong amount typed"))
    deliver(printer, reversal_receipt(cancelled, config.canteen, cashier.name, _), open_drawer=True)
    say(_("cashier"), reversal_lines(cancelled, _))
    cash("P003", 10_00)
    at(5)
    tap("0A0B0C0D", _("Zoé, after a top-up"))
    tap("DEADBEEF", _("badge reported lost"))
    tap("CAFEBABE", _("unknown badge"))
    at(200)
    tap("04112233445566", _("after service hours"))

    click.echo("")
    report = service.cash_report(service_date(clock[0]))
    for line in report_lines(report, _, language):
        click.echo(line)
    deliver(printer, cash_report_receipt(report, config.canteen, _, printed_at=clock[0]), open_drawer=False)
    click.echo(_("Receipts from the virtual printer (text and PNG): {folder}").format(folder=folder / "receipts"))
    reader.stop()
    report = agent.run_round()
    click.echo(_("Sync: {sent}, {new}.").format(
        sent=ngettext("{count} record sent to the server", "{count} records sent to the server",
                      report.pushed).format(count=report.pushed),
        new=ngettext("{count} new", "{count} new", report.accepted).format(count=report.accepted)))
    agree = all(server.balance(p) == store.balance(p) for p in ("P001", "P002", "P003", "S001"))
    click.echo(_("Server and kiosk agree on every balance.") if agree
               else _("Server and kiosk balances DIFFER."))
    diverging = store.verify_balances()
    click.echo(_("Ledger check: every balance equals the sum of its entries.") if not diverging
               else _("Ledger check FAILED: {accounts}").format(accounts=diverging))
    store.close()
