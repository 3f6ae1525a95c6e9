"""The portal over HTTP: who may see what, CSRF, throttling, sessions, bad input, reservations and
their e-mails through a real SMTP server on loopback."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.sync import ChangeType
from sync_server.db import make_engine
from sync_server.families import accounts
from sync_server.mail import outbox
from sync_server.sync import ledger
from sync_server.tables import changes, mail_outbox, reservations

from .portal_client import start_school, text_of, utc
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.on_each_database

MONDAY = date(2026, 11, 30)
PAGES = ["/", "/children/P001/history", "/children/P001/agenda", "/menus", "/menus/print", "/documents",
         "/documents/1", "/password"]


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def credit(school, pupil_id: str, cents: int, at, kind=EntryKind.ONLINE_TOPUP) -> None:
    day = at.date() if kind is EntryKind.MEAL else None
    with school.live.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, kind, at, "server", reference="t",
                                        service_date=day), at)


def reservation_rows(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(reservations.c.pupil_id, reservations.c.service_date, reservations.c.kind)).all()


# -- logging in --------------------------------------------------------------------------------

def test_a_family_logs_in_with_its_letter_and_sees_only_its_own_children(school):
    credit(school, "P001", 42_50, utc(2026, 11, 27, 9))
    home = text_of(school.logged_in("F01").get("/"))
    assert "Léa Müller" in home and "Zoé Rochat" in home and "CHF 42.50" in home
    assert "Noé" not in home  # family F02's child


def test_a_wrong_password_or_a_login_in_the_wrong_case_is_refused_with_the_same_words(school):
    letter = school.letters["F01"]
    browser = school.browser()
    for login, password in ((letter.login, "wrong-password"), (letter.login.upper(), letter.password),
                            ("nobody", letter.password)):
        response = browser.submit("/login", {"login": login, "password": password})
        assert response.status_code == 401
        assert "Identifiant ou mot de passe incorrect." in text_of(response)
    assert browser.get("/").status_code == 302  # still not logged in


def test_an_empty_login_form_says_what_is_missing(school):
    response = school.browser().submit("/login", {"login": "", "password": ""})
    assert response.status_code == 422
    assert "Saisissez votre identifiant." in text_of(response) and "Saisissez votre mot de passe." in text_of(response)


def test_ten_login_attempts_lock_the_account_for_a_while_even_for_the_right_password(school):
    letter = school.letters["F01"]
    browser = school.browser()
    for _ in range(10):
        assert browser.submit("/login", {"login": letter.login, "password": "guess"}).status_code == 401
    refused = browser.submit("/login", {"login": letter.login, "password": letter.password})
    assert refused.status_code == 429 and "Trop de tentatives" in text_of(refused)
    other = school.letters["F02"]  # another account from the same address is not locked out
    assert browser.submit("/login", {"login": other.login, "password": other.password}).status_code == 302


def test_many_wrong_logins_from_one_address_are_throttled_whatever_the_account(school):
    school.app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 10 minutes"
    browser = school.browser()
    for n in range(3):
        assert browser.submit("/login", {"login": f"guess{n}", "password": "x"}).status_code == 401
    assert browser.submit("/login", {"login": "guess9", "password": "x"}).status_code == 429


def test_every_page_but_login_and_help_needs_a_session(school):
    browser = school.browser()
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    assert browser.get("/help").status_code == 200


def test_logging_out_ends_the_session(school):
    browser = school.logged_in("F01")
    browser.submit("/logout", {}, form_page="/")
    assert browser.get("/").status_code == 302


def test_a_language_chosen_on_the_login_page_is_the_familys_for_its_mails_too_not_the_next_familys(school):
    browser = school.browser()
    browser.submit("/language", {"language": "en", "next": "/login"}, form_page="/login")
    letter = school.letters["F01"]
    assert browser.submit("/login", {"login": letter.login, "password": letter.password}).status_code == 302
    browser.submit("/logout", {}, form_page="/")  # the login page stays in English for the next one
    other = school.letters["F02"]
    assert browser.submit("/login", {"login": other.login, "password": other.password}).status_code == 302
    with school.live.write() as conn:
        assert (accounts.family(conn, "F01").language, accounts.family(conn, "F02").language) == ("en", "fr")


@pytest.mark.parametrize("where", ["portal", "back office"])
def test_a_copy_of_the_session_cookie_is_refused_once_its_session_logged_out(school, where):
    """A cookie taken from a shared computer (or a proxy's log) does not outlive the logout."""
    browser, home, logout = ((school.logged_in("F01"), "/", "/logout") if where == "portal"
                             else (school.manager(), "/manage/", "/manage/logout"))
    copy = school.browser()
    copy.client.set_cookie("session", browser.client.get_cookie("session", domain="portal.test").value,
                           domain="portal.test")
    assert copy.get(home).status_code == 200
    token_in_session = copy.token(home)
    browser.submit(logout, {}, form_page=home)
    assert copy.get(home).status_code == 302
    assert copy.post(logout, {"csrf_token": token_in_session}).status_code == 302  # its logout again: no harm
    again = school.logged_in("F01") if where == "portal" else school.manager()  # a new login works
    assert again.get(home).status_code == 200


def test_a_session_ends_after_its_maximum_age_however_active(school):
    browser = school.logged_in("F01")
    school.clock.now += timedelta(hours=11, minutes=59)
    assert browser.get("/").status_code == 200
    school.clock.now += timedelta(minutes=2)
    assert browser.get("/").status_code == 302


def test_a_session_left_idle_for_30_minutes_ends_and_an_active_one_goes_on(school, monkeypatch):
    started = time.time()
    browser = school.logged_in("F01")
    for minutes in (20, 40, 60, 80):  # a page every 20 minutes: more than an hour after the login
        monkeypatch.setattr(time, "time", lambda minutes=minutes: started + minutes * 60)  # the cookie's signing clock
        assert browser.get("/").status_code == 200, minutes
    monkeypatch.setattr(time, "time", lambda: started + 111 * 60)  # 31 minutes since the last page
    assert browser.get("/").status_code == 302


def test_the_session_cookie_is_secure_http_only_and_same_site(school):
    browser = school.browser()
    browser.submit("/login", {"login": school.letters["F01"].login, "password": school.letters["F01"].password})
    cookie = browser.last.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(school):
    response = school.logged_in("F01").get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.text and " on" + "click=" not in response.text


# -- the password --------------------------------------------------------------------------------

def test_changing_the_password_ends_the_other_sessions_and_the_new_one_works(school):
    letter = school.letters["F01"]
    phone, laptop = school.logged_in("F01"), school.logged_in("F01")
    changed = laptop.submit("/password", {"current": letter.password, "new": "un nouveau secret", "confirm":
                                          "un nouveau secret"})
    assert changed.status_code == 302
    assert laptop.get("/").status_code == 200 and phone.get("/").status_code == 302
    relogin = school.browser().submit("/login", {"login": letter.login, "password": "un nouveau secret"})
    assert relogin.status_code == 302


@pytest.mark.parametrize("current, new, confirm, says", [
    ("wrong", "un nouveau secret", "un nouveau secret", "Le mot de passe actuel est faux."),
    (None, "court", "court", "de 10 à 200 caractères"),
    (None, "un nouveau secret", "autre chose ici", "Les deux nouveaux mots de passe diffèrent."),
])
def test_a_bad_password_change_says_why_and_changes_nothing(school, current, new, confirm, says):
    letter = school.letters["F01"]
    browser = school.logged_in("F01")
    response = browser.submit("/password", {"current": current or letter.password, "new": new, "confirm": confirm})
    assert response.status_code == 422 and says in text_of(response)
    with school.live.write() as conn:
        assert accounts.authenticate(conn, letter.login, letter.password) is not None


def test_a_reset_password_ends_every_session(school):
    browser = school.logged_in("F01")
    with school.live.write() as conn:
        accounts.reset_password(conn, "F01", school.clock.now)
    assert browser.get("/").status_code == 302


# -- another family's child, CSRF, bad input ----------------------------------------------------

@pytest.mark.parametrize("path", ["/children/P001/history", "/children/P001/agenda", "/children/NOPE/history"])
def test_another_familys_child_is_not_found(school, path):
    assert school.logged_in("F02").get(path).status_code == 404


def test_reserving_for_another_familys_child_is_not_found_and_writes_nothing(school):
    browser = school.logged_in("F02")
    response = browser.submit("/children/P001/agenda", {"day": "2026-12-01", "choice": "normal"},
                              form_page="/children/P002/agenda")
    assert response.status_code == 404 and reservation_rows(school) == []


@pytest.mark.parametrize("path, data", [
    ("/logout", {}), ("/language", {"language": "en", "next": "/"}),
    ("/password", {"current": "x", "new": "un nouveau secret", "confirm": "un nouveau secret"}),
])
def test_every_form_of_a_logged_in_family_needs_its_csrf_token(school, path, data):
    browser = school.logged_in("F01")
    assert browser.post(path, data).status_code == 400
    assert "Vos enfants" in text_of(browser.get("/"))  # still logged in, still in French


def test_the_login_form_needs_its_csrf_token_too(school):
    letter = school.letters["F01"]
    browser = school.browser()
    response = browser.post("/login", {"login": letter.login, "password": letter.password})
    assert response.status_code == 400 and "Le formulaire est arrivé incomplet ou a expiré" in text_of(response)
    assert browser.get("/").status_code == 302


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(school):
    browser = school.logged_in("F01")
    response = browser.post("/children/P001/agenda", {"day": "2026-12-01", "choice": "normal"})
    assert response.status_code == 400 and "Le formulaire" in text_of(response)
    assert reservation_rows(school) == []


OUT_OF_RANGE = "Choisissez une date entre le lundi 3 janvier 2000 et le vendredi 25 décembre 2099."


@pytest.mark.parametrize("path, says", [
    ("/menus?week=yesterday", "« yesterday » n'est pas une date : utilisez AAAA-MM-JJ."),
    ("/children/P001/agenda?week=2026-13-45", "« 2026-13-45 » n'est pas une date : utilisez AAAA-MM-JJ."),
    ("/children/P001/agenda?week=9999-12-31", OUT_OF_RANGE),
    ("/menus?week=0001-01-01", OUT_OF_RANGE),
    ("/children/P001/history?page=-1", "Le numéro de page doit être un nombre entier."),
    ("/children/P001/history?page=²", "Le numéro de page doit être un nombre entier."),
    ("/children/P001/history?page=" + "9" * 5000, "Le numéro de page doit être un nombre entier."),
])
def test_bad_query_values_are_answered_400_in_words(school, path, says):
    response = school.logged_in("F01").get(path)
    assert response.status_code == 400 and says in text_of(response)


@pytest.mark.parametrize("data", [{"day": "2026-12-01", "choice": "breakfast"}, {"day": "soon", "choice": "normal"},
                                  {"choice": "normal"}])
def test_a_bad_reservation_request_is_400_and_writes_nothing(school, data):
    response = school.logged_in("F01").submit("/children/P001/agenda", data)
    assert response.status_code == 400 and reservation_rows(school) == []


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\t/evil.example", "/\\evil",
                                    "javascript:alert(1)"])
def test_the_language_switch_never_redirects_off_the_portal(school, target):
    response = school.logged_in("F01").submit("/language", {"language": "en", "next": target}, form_page="/")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_reservation_more_than_a_year_ahead_is_refused(school):
    response = school.logged_in("F01").submit("/children/P001/agenda", {"day": "2099-06-01", "choice": "normal"})
    assert response.status_code == 409 and "au plus 366 jours à l'avance" in text_of(response)
    assert reservation_rows(school) == []


def test_times_and_dates_are_shown_on_the_zurich_calendar(school):
    credit(school, "P001", 10_00, utc(2026, 11, 30, 23, 30))  # 00:30 on 1 December in Zurich
    page = text_of(school.logged_in("F01").get("/children/P001/history"))
    assert "mar. 1 déc. 00:30" in page


# -- reservations --------------------------------------------------------------------------------

def test_a_reservation_is_stored_published_to_the_kiosks_and_confirmed_by_email(school):
    browser = school.logged_in("F01")
    response = browser.submit("/children/P001/agenda", {"day": "2026-12-04", "choice": "special"})
    assert response.status_code == 302
    assert reservation_rows(school) == [("P001", "2026-12-04", "special")]
    with school.live.write() as conn:
        published = conn.execute(select(changes.c.key, changes.c.record).where(
            changes.c.type == str(ChangeType.RESERVATION))).all()
        queued = conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject)).all()
    assert [key for key, _record in published] == ["P001/2026-12-04"]
    assert queued == [("parent3@example.ch", "Réservation confirmée : Léa, vendredi 4 décembre 2026")]
    page = text_of(browser.get(response.headers["Location"]))
    assert "Réservation enregistrée." in page and "Repas spécial réservé" in page


def test_a_normal_meal_turned_special_is_one_reservation_changed_and_published_again(school):
    browser = school.logged_in("F01")
    for choice in ("normal", "special"):
        assert browser.submit("/children/P001/agenda", {"day": "2026-12-04", "choice": choice}).status_code == 302
    assert reservation_rows(school) == [("P001", "2026-12-04", "special")]
    with school.live.write() as conn:
        published = conn.execute(select(changes.c.record).where(changes.c.type == str(ChangeType.RESERVATION))
                                 .order_by(changes.c.seq)).scalars().all()
    assert [json.loads(record)["kind"] for record in published] == ["normal", "special"]


def test_a_reservation_sent_for_a_saturday_is_refused_as_a_day_without_service(school):
    """The agenda never offers a weekend day; a request for one is answered, not a server error."""
    browser = school.logged_in("F01")
    response = browser.submit("/children/P001/agenda", {"day": "2026-12-05", "choice": "normal"})
    assert response.status_code == 409
    assert "Il n'y a pas de service de repas le samedi 5 décembre." in text_of(response)
    assert "Pour un changement maintenant, contactez la cantine" not in text_of(response)  # no deadline to go past
    assert reservation_rows(school) == []


def test_a_reservation_sent_by_the_agenda_script_is_answered_with_the_changed_day_only(school):
    browser = school.logged_in("F01")
    token = browser.token("/children/P001/agenda?week=2026-12-02")
    fetch = {"X-Requested-With": "fetch", "Referer": "https://portal.test/children/P001/agenda"}
    answer = browser.client.post("/children/P001/agenda", base_url="https://portal.test", headers=fetch,
                                 data={"csrf_token": token, "day": "2026-12-02", "choice": "normal"})
    assert answer.status_code == 200 and answer.text.lstrip().startswith('<li class="day')
    assert "<html" not in answer.text and answer.text.count("<li") == 1
    day = text_of(answer)
    assert "mercredi 2 décembre 2026" in day and "Réservation enregistrée." in day and "Repas normal réservé" in day
    assert reservation_rows(school) == [("P001", "2026-12-02", "normal")]
    late = browser.client.post("/children/P001/agenda", base_url="https://portal.test", headers=fetch,
                               data={"csrf_token": token, "day": "2026-11-30", "choice": "normal"})  # past 08:15
    assert late.status_code == 409 and "ce délai est passé" in text_of(late) and "079 000 00 00" in text_of(late)
    assert "lundi 30 novembre 2026" in text_of(late) and late.text.count("<li") == 1


def test_more_parents_reserving_at_once_than_the_database_pool_holds_are_all_answered(school):
    """Each reservation reads (the signed-in family) then writes: a request holding its read
    connection while it waits for a write one would, with every pooled connection so held, wait
    for good (on SQLite the writer lock's holder waited for a connection the waiters held)."""
    browser = school.logged_in("F01")
    token = browser.token("/children/P001/agenda")
    session = browser.client.get_cookie(school.app.config["SESSION_COOKIE_NAME"], domain="portal.test")
    parents = 40  # more than a worker's pool holds: 15 connections on SQLite, 12 on PostgreSQL
    days = [day for day in (date(2026, 12, 7) + timedelta(days=n) for n in range(2 * parents))
            if day.weekday() < 5][:parents]
    start = threading.Barrier(parents)

    def reserve(day: date) -> int:
        client = school.app.test_client()
        client.set_cookie(session.key, session.value, domain="portal.test")
        start.wait(timeout=60)  # every request sent at once, or a broken barrier rather than a hang
        return client.post("/children/P001/agenda", base_url="https://portal.test",
                           headers={"Referer": "https://portal.test/children/P001/agenda"},
                           data={"csrf_token": token, "day": day.isoformat(), "choice": "normal"}).status_code

    with ThreadPoolExecutor(parents) as threads:
        answers = list(threads.map(reserve, days))
    assert answers == [302] * parents
    assert sorted(reservation_rows(school)) == [("P001", day.isoformat(), "normal") for day in days]


def test_cancelling_after_the_8_15_deadline_is_refused_with_how_to_reach_the_canteen(school):
    browser = school.logged_in("F01")
    school.clock.now = utc(2026, 11, 30, 7, 0)  # 08:00 in Zurich
    assert browser.submit("/children/P001/agenda", {"day": "2026-11-30", "choice": "normal"}).status_code == 302
    school.clock.now = utc(2026, 11, 30, 7, 16)  # 08:16
    refused = browser.submit("/children/P001/agenda", {"day": "2026-11-30", "choice": "none"})
    assert refused.status_code == 409
    says = text_of(refused)
    assert "jusqu'à 08:15 le jour même" in says and "079 000 00 00" in says and "cantine@example.ch" in says
    assert reservation_rows(school) == [("P001", "2026-11-30", "normal")]


def test_a_closed_day_shows_its_reason_and_cannot_be_booked(school):
    from sync_server.families import reservations as calendar

    with school.live.write() as conn:
        calendar.close_days(conn, date(2026, 12, 8), date(2026, 12, 8), "Immaculée Conception",
                            today=date(2026, 11, 30))
    browser = school.logged_in("F01")
    assert "Fermé : Immaculée Conception" in text_of(browser.get("/children/P001/agenda?week=2026-12-08"))
    refused = browser.submit("/children/P001/agenda", {"day": "2026-12-08", "choice": "normal"},
                             form_page="/children/P001/agenda?week=2026-12-08")
    assert refused.status_code == 409 and reservation_rows(school) == []


def test_mail_waits_while_the_mail_server_is_down_and_goes_out_once_it_is_back(school):
    browser = school.logged_in("F01")
    browser.submit("/children/P003/agenda", {"day": "2026-12-03", "choice": "normal"})
    sink = SmtpSink()
    sink.stop()  # nobody listens on its port now
    settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port, sender="cantine@example.ch")
    report = outbox.send_due(school.live.engine, settings, school.clock.now)
    assert (report.sent, report.failed) == (0, 1) and "Connection refused" in report.last_error
    assert outbox.send_due(school.live.engine, settings, school.clock.now).failed == 0  # not due again yet
    sink = SmtpSink()
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port, sender="cantine@example.ch")
        later = school.clock.now + timedelta(minutes=1)
        assert outbox.send_due(school.live.engine, settings, later).sent == 1
        (message,) = sink.wait_for(1)
        assert message["To"] == "parent3@example.ch" and message["From"] == "cantine@example.ch"
        assert message["Subject"] == "Réservation confirmée : Zoé, jeudi 3 décembre 2026"
        assert "Un repas normal est réservé pour Zoé le jeudi 3 décembre 2026." in message.get_content()
        assert outbox.send_due(school.live.engine, settings, later + timedelta(hours=1)).sent == 0  # sent once
    finally:
        sink.stop()


# -- history, menus, documents, language ---------------------------------------------------------

def test_the_history_lists_entries_newest_first_with_the_balance_after_each_and_pages(school):
    credit(school, "P001", 50_00, utc(2026, 11, 2, 9))
    for day in range(3, 28):  # 25 meals of CHF 1.00
        credit(school, "P001", -1_00, utc(2026, 11, day, 11), EntryKind.MEAL)
    browser = school.logged_in("F01")
    first = text_of(browser.get("/children/P001/history"))
    assert "Page 1 sur 2" in first and "CHF 25.00" in first  # the newest meal leaves CHF 25.00
    second = text_of(browser.get("/children/P001/history?page=2"))
    assert "Paiement en ligne +50.00 50.00" in second  # the amount, then the balance after it


def test_the_menus_show_allergens_labels_and_origin_and_a_print_view(school):
    from domain.roster import parse_csv
    from sync_server.admin import menu_import

    csv = ("date,course,dish,allergens,labels\n"
           "2026-11-30,Plat,Émincé de poulet,\"milk,celery\",origin: poulet Suisse\n"
           "2026-11-30,Dessert,Salade de fruits,,vegan\n")
    with school.live.write() as conn:
        menu_import.import_menus(conn, *parse_csv(csv.encode()), school.clock.now)
    browser = school.logged_in("F01")
    page = text_of(browser.get("/menus?week=2026-12-02"))
    assert "Émincé de poulet" in page and "Lait (lactose), Céleri" in page and "poulet Suisse" in page
    assert "Végane" in page
    printed = browser.get("/menus/print?week=2026-11-30")
    assert printed.status_code == 200 and "Émincé de poulet" in text_of(printed) and "<nav" not in printed.text


def test_a_menu_file_with_an_unknown_allergen_is_refused_with_its_line(school):
    from domain.roster import RosterError, parse_csv
    from sync_server.admin import menu_import

    csv = "date,course,dish,allergens,labels\n2026-11-30,Plat,Pâtes,\"gluten,peanut\",\n"
    with pytest.raises(RosterError) as refused, school.live.write() as conn:
        menu_import.import_menus(conn, *parse_csv(csv.encode()), school.clock.now)
    assert refused.value.errors[0].line == 2 and "peanut" in refused.value.errors[0].message.render()


def test_a_published_document_downloads_under_its_name_and_other_numbers_are_not_found(school, tmp_path):
    from sync_server.families import documents

    source = tmp_path / "Règlement 2026.pdf"
    source.write_bytes(b"%PDF-1.4 test\n")
    with school.live.write() as conn:
        added = documents.add(conn, tmp_path / "instance" / "documents", source, "Règlement de la cantine",
                              school.clock.now)
    browser = school.logged_in("F01")
    assert "Règlement de la cantine" in text_of(browser.get("/documents"))
    download = browser.get(f"/documents/{added.document_id}")
    data = download.data
    download.close()
    assert data == b"%PDF-1.4 test\n" and "attachment" in download.headers["Content-Disposition"]
    assert browser.get(f"/documents/{added.document_id + 1}").status_code == 404
    assert browser.get("/documents/..%2F..%2Fserver.db").status_code == 404


def test_a_document_of_a_kind_families_should_not_download_is_refused(school, tmp_path):
    from sync_server.families import documents

    source = tmp_path / "setup.exe"
    source.write_bytes(b"MZ")
    with pytest.raises(documents.DocumentError), school.live.write() as conn:
        documents.add(conn, tmp_path / "docs", source, "Programme", school.clock.now)


def test_the_portal_speaks_french_first_and_switches_to_english(school):
    browser = school.logged_in("F01")
    assert "Vos enfants" in text_of(browser.get("/"))
    browser.submit("/language", {"language": "en", "next": "/"}, form_page="/")
    assert "Your children" in text_of(browser.get("/"))
    with school.live.write() as conn:
        assert accounts.family(conn, "F01").language == "en"  # the family's e-mails follow


def test_a_message_that_cannot_be_written_is_given_up_and_the_others_still_go(school):
    with school.live.write() as conn:
        outbox.enqueue(conn, "parent1@example.ch", "Léa\nBcc: victim@example.ch", "x", school.clock.now)
        outbox.enqueue(conn, "parent2@example.ch", "Réservation", "y", school.clock.now)
    sink = SmtpSink()
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port)
        report = outbox.send_due(school.live.engine, settings, school.clock.now)
        assert (report.sent, report.given_up) == (1, 1)
        assert [m["To"] for m in sink.wait_for(1)] == ["parent2@example.ch"]
        assert outbox.send_due(school.live.engine, settings, school.clock.now + timedelta(days=30)).sent == 0
    finally:
        sink.stop()


def test_a_recipient_the_mail_server_refuses_for_good_is_given_up(school):
    with school.live.write() as conn:
        outbox.enqueue(conn, "nobody@refused.example", "Réservation", "x", school.clock.now)
    sink = SmtpSink(refuse="nobody@refused.example")
    try:
        report = outbox.send_due(school.live.engine, outbox.SmtpSettings(host="127.0.0.1", port=sink.port),
                               school.clock.now)
        assert report.given_up == 1 and "550" in report.last_error
    finally:
        sink.stop()


def test_a_sender_slower_than_its_claim_leaves_the_rest_of_its_batch_to_the_next_sender(school):
    with school.live.write() as conn:
        for n in range(6):
            outbox.enqueue(conn, f"parent{n}@example.ch", f"Message {n}", "x", school.clock.now)
    sink = SmtpSink(delay_s=0.2)
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port)
        claim = timedelta(seconds=0.8)
        first = outbox.send_due(school.live.engine, settings, school.clock.now, claim=claim)
        assert first.sent < 6  # it stopped at half its claim
        assert outbox.send_due(school.live.engine, settings, school.clock.now, claim=claim).sent == 0  # still claimed
        rest = outbox.send_due(school.live.engine, settings, school.clock.now + claim)  # the claim is over
        assert first.sent + rest.sent == 6
        assert sorted(m["Subject"] for m in sink.wait_for(6)) == sorted(f"Message {n}" for n in range(6))
    finally:
        sink.stop()


def test_two_machines_sending_mail_at_once_deliver_each_message_once(school):
    """`send-mail` on two machines at the same moment: each its own connections, claiming batches
    from the one outbox."""
    count = outbox.BATCH * 3
    with school.live.write() as conn:
        for n in range(count):
            outbox.enqueue(conn, f"parent{n}@example.ch", f"Message {n}", "x", school.clock.now)
    sink = SmtpSink()
    machines = [make_engine(str(school.live.engine.url.render_as_string(hide_password=False))) for _ in range(2)]
    start = threading.Barrier(2)

    def send(engine):
        start.wait(timeout=60)  # both machines at the same moment, or a broken barrier rather than a hang
        reports = [outbox.send_due(engine, settings, school.clock.now)]
        while reports[-1].sent:
            reports.append(outbox.send_due(engine, settings, school.clock.now))
        return sum(report.sent for report in reports)

    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port)
        with ThreadPoolExecutor(2) as pool:
            sent = list(pool.map(send, machines))
        assert sum(sent) == count, sent
        assert sorted(m["Subject"] for m in sink.wait_for(count)) == sorted(f"Message {n}" for n in range(count))
    finally:
        sink.stop()
        for engine in machines:
            engine.dispose()
