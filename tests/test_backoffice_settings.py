"""The manager's settings, closed days, menus and documents, over HTTP on SQLite and PostgreSQL:
what is changed reaches the kiosks (a price is charged at a real kiosk after its sync), a refused
value is explained beside its field and writes nothing, a kitchen login edits menus and never
settings; and their command-line twins, `refectory server settings show|set`."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from domain.clock import service_date, utc_now
from kiosk.sync_agent import SyncAgent
from sync_server.families import documents
from sync_server.tables import audit_log, closed_days, menus, metadata

from .live_server import new_kiosk
from .portal_client import BASE, start_school, text_of

pytestmark = pytest.mark.on_each_database

# Every field of the page, as the browser sends it untouched (the test school: primary at 7.50).
FORM = {"price.primary": "7.50", "price.secondary": "8.50", "price.staff": "10.00", "service.start": "11:00",
        "service.end": "14:00", "service.days": ["mon", "tue", "wed", "thu", "fri"], "reservation.cutoff": "08:15",
        "reservation.special_days_ahead": "3", "meals.per_day": "1", "topup.min": "5.00", "topup.max": "500.00",
        "balance.low_threshold": "20.00"}
MENU = ("date,course,dish,allergens,labels\n"
        "2026-12-01,Plat,Lasagnes,\"gluten,milk\",\n2026-12-02,Plat,Rösti,,vegetarian\n")


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def every_row(school) -> dict[str, list]:
    with school.live.engine.connect() as conn:
        return {table.name: sorted(map(repr, conn.execute(select(table)).all())) for table in metadata.sorted_tables}


def field_error(page: str, field: str) -> str:
    """The message the page shows beside `field` (its aria-describedby target)."""
    start = page.index(f'id="{field.replace(".", "-")}-error">') + len(field) + 11
    return page[start:page.index("</span>", start)]


def test_a_price_set_on_the_page_and_another_by_the_command_are_charged_at_a_kiosk_after_its_sync(
        school, tmp_path, run, monkeypatch):
    kiosk = new_kiosk(tmp_path, school.live)
    agent = SyncAgent(kiosk.store)
    agent.run_round()
    manager = school.manager()
    saved = manager.submit("/manage/settings", {**FORM, "price.primary": "6.80"})
    assert saved.status_code == 302
    page = text_of(manager.get("/manage/settings"))
    assert "1 réglage modifié : les bornes l’appliquent à leur prochaine synchronisation." in page
    assert "K1 " in page and "à sa prochaine synchronisation" in page
    cashier = kiosk.login("anne", "1234")
    kiosk.cash_topup(cashier, "P001", 50_00)
    agent.run_round()
    assert kiosk.tap("04A1B2C3").verdict.balance_cents == 50_00 - 6_80
    assert "appliqués" in text_of(manager.get("/manage/settings"))

    monkeypatch.setenv("DATABASE_URL", school.live.app.config["DATABASE_URL"])
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", school.live.app.instance_path)
    by_command = run("server", "set-price", "secondary", "9.20", "--json")
    assert by_command.exit_code == 0, by_command.stderr
    assert json.loads(by_command.stdout)["value"] == "9.20"
    kiosk.cash_topup(cashier, "P002", 20_00)
    agent.run_round()
    assert kiosk.tap("04:11:22:33:44:55:66").verdict.balance_cents == 20_00 - 9_20
    with school.live.engine.connect() as conn:
        audited = conn.execute(select(audit_log.c.actor, audit_log.c.subject, audit_log.c.detail)
                               .where(audit_log.c.action == "setting.set")).all()
    assert ("sandra", "price.primary", "6.80") in audited
    assert any(actor.startswith("cli") and subject == "price.secondary" for actor, subject, _ in audited)


def test_settings_show_and_set_cover_every_setting_the_kiosks_use_and_refuse_what_the_page_refuses(
        school, run, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", school.live.app.config["DATABASE_URL"])
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", school.live.app.instance_path)
    shown = json.loads(run("server", "settings", "show", "--json").stdout)["settings"]
    assert shown["price.primary"] == "7.50" and shown["service.days"] == "mon,tue,wed,thu,fri"
    assert {"reservation.cutoff", "reservation.required", "reservation.special_days_ahead", "meals.per_day",
            "topup.min", "topup.max", "balance.low_threshold", "service.start", "service.end"} <= set(shown)
    changed = run("server", "settings", "set", "service.end", "13:30", "--json")
    assert json.loads(changed.stdout) == {"ok": True, "key": "service.end", "value": "13:30", "changed": True}
    again = run("server", "settings", "set", "service.end", "13:30")
    assert again.stdout.splitlines() == ["service.end = 13:30", "Il avait déjà cette valeur : rien n’a changé."]
    before = every_row(school)
    refused = run("server", "settings", "set", "service.end", "10:00", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"] == "invalid_setting"
    assert "service.start" in refused.stderr
    assert run("server", "settings", "set", "price.primary", "-1").exit_code == 1
    assert every_row(school) == before
    assert "service.end = 13:30" in run("server", "settings", "show").stdout


REFUSED = [("price.primary", "-1", "Le montant doit être positif"), ("price.primary", "100.05", "100.00"),
           ("service.end", "10:30", "service.start"), ("topup.max", "2.00", "topup.min"),
           ("reservation.special_days_ahead", "²", "nombre entier de jours de 0 à 14"),
           ("meals.per_day", "٣", "nombre entier de 1 à 5")]


def test_a_refused_setting_is_explained_beside_its_field_and_nothing_is_written(school):
    manager = school.manager()
    before = every_row(school)
    for field, value, says in REFUSED:
        refused = manager.submit("/manage/settings", {**FORM, "price.secondary": "9.00", field: value})
        assert refused.status_code == 422, field
        assert says in field_error(refused.text, field), field
        assert f'value="{value}"' in refused.text  # what was typed stays, to be corrected
    assert every_row(school) == before


def test_a_closed_day_in_the_past_is_refused_and_a_future_period_is_closed_then_reopened(school):
    manager = school.manager()
    before = every_row(school)
    past = manager.submit("/manage/settings/calendar/close", {"first": "2026-11-27", "reason": "Pont"},
                          form_page="/manage/settings/calendar")
    assert past.status_code == 422
    assert "Le 27.11.2026 est passé" in field_error(past.text, "close-first")
    assert every_row(school) == before
    closed = manager.submit("/manage/settings/calendar/close",
                            {"first": "2026-12-21", "last": "2027-01-01", "reason": "Vacances de Noël"},
                            form_page="/manage/settings/calendar")
    assert closed.status_code == 302
    page = text_of(manager.get("/manage/settings/calendar?year=2026"))
    assert "12 jours fermés." in page and "21.12.2026 – 01.01.2027 · Vacances de Noël" in page
    reopened = manager.submit("/manage/settings/calendar/reopen", {"first": "2026-12-21", "last": "2026-12-23"},
                              form_page="/manage/settings/calendar")
    assert reopened.status_code == 302
    with school.live.engine.connect() as conn:
        days = sorted(conn.execute(select(closed_days.c.day)).scalars())
        actions = conn.execute(select(audit_log.c.action).where(audit_log.c.actor == "sandra")).scalars().all()
    assert days[0] == "2026-12-24" and len(days) == 9
    assert {"calendar.close", "calendar.reopen"} <= set(actions)


def test_a_closing_or_reopening_the_calendar_cannot_hold_is_explained_and_nothing_is_written(school):
    manager = school.manager()
    before = every_row(school)
    for action, form, field, says in (
            ("close", {"first": "2026-12-01", "last": "2027-12-02", "reason": "Travaux"}, "last", "un an au plus"),
            ("close", {"first": "2150-06-01", "reason": "Loin"}, "first", "Choisissez un jour de 2000 à 2099."),
            ("reopen", {"first": "2026-12-21", "last": "2026-12-20"}, "last", "doit aller vers l’avant"),
            ("reopen", {"first": "2026-11-27"}, "first", "Le 27.11.2026 est passé")):
        refused = manager.submit(f"/manage/settings/calendar/{action}", form, form_page="/manage/settings/calendar")
        assert refused.status_code == 422, (action, form)
        assert says in field_error(refused.text, f"{action}-{field}"), (action, form)
    assert every_row(school) == before
    assert manager.get("/manage/settings/calendar?year=²").status_code == 200  # this year's, not a 500


def test_a_reason_holding_a_nul_character_is_refused_before_anything_is_written(school):
    manager = school.manager()
    before = every_row(school)
    refused = manager.submit("/manage/settings/calendar/close",
                             {"first": "2026-12-21", "reason": "Vacances\x00de Noël"},
                             form_page="/manage/settings/calendar")
    assert refused.status_code == 400 and "caractère NUL" in text_of(refused)
    assert every_row(school) == before


def test_a_kitchen_login_imports_and_edits_menus_and_gets_403_on_settings(school):
    kitchen = school.staff("kitchen")
    for path in ("/manage/settings", "/manage/settings/calendar", "/manage/documents"):
        assert kitchen.get(path).status_code == 403, path
    assert kitchen.post("/manage/settings", {**FORM, "csrf_token": kitchen.token("/manage/")}).status_code == 403
    imported = kitchen.post("/manage/menus", {"csrf_token": kitchen.token("/manage/menus"),
                                              "menu_file": (BytesIO(MENU.encode()), "semaine.csv")})
    assert imported.status_code == 302
    week = text_of(kitchen.get("/manage/menus?week=2026-12-01"))
    assert "Lasagnes" in week and "Menus de 2 jours importés" in week
    edited = kitchen.submit("/manage/menus/2026-12-01", {"course": ["Entrée", "Plat", ""],
                                                         "dish": ["Soupe", "Lasagnes", ""],
                                                         "allergens": ["celery", "gluten, milk", ""],
                                                         "labels": ["vegan", "", ""]})
    assert edited.status_code == 302
    with school.live.engine.connect() as conn:
        day = conn.execute(select(menus.c.course, menus.c.dish, menus.c.allergens, menus.c.labels)
                           .where(menus.c.service_date == "2026-12-01").order_by(menus.c.position)).all()
    assert [tuple(row) for row in day] == [("Entrée", "Soupe", "celery", "vegan"),
                                           ("Plat", "Lasagnes", "gluten,milk", "")]


def test_a_menu_with_an_unknown_allergen_or_a_20_mb_file_is_refused_in_words_and_nothing_is_written(school):
    manager = school.manager()
    before = every_row(school)
    unknown = manager.submit("/manage/menus/2026-12-01", {"course": ["Plat"], "dish": ["Fondue"],
                                                          "allergens": ["fromage"], "labels": [""]})
    assert unknown.status_code == 422
    assert "Allergène inconnu « fromage »" in field_error(unknown.text, "line.1")
    big = b"date,course,dish,allergens,labels\n" + b"2026-12-01,Plat,Rosti,,\n" * (20 * 2**20 // 24)
    environ = EnvironBuilder("/manage/menus", base_url=BASE, method="POST", headers={"Referer": BASE + "/manage/menus"},
                             data={"csrf_token": manager.token("/manage/menus"),
                                   "menu_file": (BytesIO(big), "menus.csv")}).get_environ()
    try:
        refused = manager.client.open(environ)
    finally:
        environ["wsgi.input"].close()  # werkzeug's test client leaves a large body's temporary file open
    assert refused.status_code == 422
    assert "Le fichier fait 20.0 Mo ; un fichier de menus fait au plus 1 Mo." in text_of(refused)
    bad_file = manager.post("/manage/menus", {"csrf_token": manager.token("/manage/menus"), "menu_file": (
        BytesIO(b"date,course,dish,allergens,labels\n2026-12-01,Plat,Fondue,fromage,\n"), "menus.csv")})
    assert "ligne 2 : Allergène inconnu « fromage »" in text_of(bad_file)
    assert every_row(school) == before


def test_a_document_is_published_then_withdrawn_and_the_payment_terms_cannot_be(school, tmp_path):
    manager = school.manager()
    no_title = manager.post("/manage/documents", {"csrf_token": manager.token("/manage/documents"), "title": "",
                                                  "document": (BytesIO(b"%PDF-1.4 menu\n"), "charte.pdf")})
    assert no_title.status_code == 422 and "titre" in field_error(no_title.text, "title")
    published = manager.post("/manage/documents", {"csrf_token": manager.token("/manage/documents"), "title": "Charte",
                                                   "document": (BytesIO(b"%PDF-1.4 x\n"), "charte.pdf")})
    assert published.status_code == 302
    with school.live.write() as conn:
        charter = documents.published(conn)[0]
    folder = tmp_path / "instance" / "documents"
    assert (folder / charter.stored_name).read_bytes() == b"%PDF-1.4 x\n"
    school.app.config["PAYMENT_TERMS_DOCUMENT"] = str(charter.document_id)
    kept = manager.submit(f"/manage/documents/{charter.document_id}/withdraw", {}, form_page="/manage/documents")
    assert kept.status_code == 302
    assert "contient les conditions du paiement en ligne" in text_of(manager.get("/manage/documents"))
    assert (folder / charter.stored_name).exists()
    school.app.config["PAYMENT_TERMS_DOCUMENT"] = ""
    withdrawn = manager.submit(f"/manage/documents/{charter.document_id}/withdraw", {},
                               form_page="/manage/documents")
    assert withdrawn.status_code == 302
    assert "Aucun document n’est publié." in text_of(manager.get("/manage/documents"))
    assert not (folder / charter.stored_name).exists()
    assert school.logged_in("F01").get(f"/documents/{charter.document_id}").status_code == 404


def test_the_command_line_refuses_to_close_a_day_in_the_past_too(school, run, monkeypatch):
    """The command runs on the system clock, as in production: the days are taken around today."""
    monkeypatch.setenv("DATABASE_URL", school.live.app.config["DATABASE_URL"])
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", school.live.app.instance_path)
    today = service_date(utc_now())
    yesterday = today - timedelta(days=1)
    refused = run("server", "calendar", "close", yesterday.isoformat(), "--reason", "Pont")
    assert refused.exit_code == 1 and f"{yesterday:%d.%m.%Y} est passé" in refused.stderr
    assert run("server", "calendar", "close", today.isoformat(), "--reason", "Fête").exit_code == 0
