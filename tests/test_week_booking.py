"""Several days in one action: a week (or chosen weekdays) booked or cancelled, and the standing
order that books chosen weekdays a week ahead; each against the 08:15 and 3-day rules, closed days
and both summer-time changes, each action confirmed by one e-mail."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.clock import SCHOOL_TZ
from sync_server.db import make_engine
from sync_server.families import reservations, standing_orders
from sync_server.tables import mail_outbox
from sync_server.tables import reservations as reservation_table

from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

AGENDA = "/children/P001/agenda"


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path, PORTAL_URL="https://portal.test/")
    yield school
    school.live.stop()


def zurich(*args) -> datetime:
    return datetime(*args, tzinfo=SCHOOL_TZ).astimezone(UTC)


def booked(school) -> dict[str, str]:
    with school.live.write() as conn:
        rows = conn.execute(select(reservation_table.c.service_date, reservation_table.c.kind)
                            .where(reservation_table.c.pupil_id == "P001")).all()
    return dict(sorted(rows))


def mails(school) -> list[tuple[str, str]]:
    with school.live.write() as conn:
        return [tuple(row) for row in conn.execute(select(mail_outbox.c.subject, mail_outbox.c.body)
                                                   .order_by(mail_outbox.c.id))]


def close(school, first: date, last: date, reason: str) -> None:
    with school.live.write() as conn:
        reservations.close_days(conn, first, last, reason, today=first - timedelta(days=30))


def week_action(browser, week: str, action: str, weekdays=range(5), kind: str = "normal"):
    return browser.submit(AGENDA + "/week", {"week": week, "weekdays": [str(n) for n in weekdays], "kind": kind,
                                             "action": action}, form_page=f"{AGENDA}?week={week}")


def standing_order(browser, weekdays, until: str, kind: str = "normal", pupil_id: str = "P001"):
    return browser.submit(f"/children/{pupil_id}/standing-order",
                          {"weekdays": [str(n) for n in weekdays], "kind": kind, "until": until}, form_page=AGENDA)


def apply_due(school) -> int:
    return standing_orders.apply_due(school.live.engine, school.clock.now, portal_url="https://portal.test/",
                                     canteen={"name": "Réfectoire"})


# -- a week in one action ------------------------------------------------------------------------

def test_a_whole_week_books_the_open_days_and_says_which_were_skipped_and_why_in_one_mail(school):
    close(school, date(2026, 12, 2), date(2026, 12, 2), "Course d'école")
    school.clock.now = zurich(2026, 11, 30, 8, 16)  # Monday, a minute past the cut-off
    browser = school.logged_in("F01")
    answer = week_action(browser, "2026-11-30", "book")
    assert answer.status_code == 302
    assert booked(school) == {"2026-12-01": "normal", "2026-12-03": "normal", "2026-12-04": "normal"}
    page = text_of(browser.get(answer.headers["Location"]))
    assert "Réservé : mardi 1er décembre, jeudi 3 décembre, vendredi 4 décembre." in page
    assert ("Pas changé : lundi 30 novembre (Les repas se réservent ou s'annulent jusqu'à 08:15 le jour même ;"
            " ce délai est passé.)") in page
    assert "mercredi 2 décembre (La cantine est fermée le mercredi 2 décembre (Course d'école).)" in page
    ((subject, body),) = mails(school)
    assert subject == "Réservations de Léa : 3 jours réservés"
    assert "- mardi 1er décembre 2026, repas normal" in body and "- vendredi 4 décembre 2026, repas normal" in body
    assert "- mercredi 2 décembre 2026 : La cantine est fermée le mercredi 2 décembre (Course d'école)." in body


def test_chosen_weekdays_are_cancelled_in_one_action_and_a_special_meal_keeps_its_three_day_rule(school):
    school.clock.now = zurich(2026, 11, 27, 9, 0)  # the Friday before
    browser = school.logged_in("F01")
    week_action(browser, "2026-11-30", "book", kind="special")
    # Special meals close 3 days ahead at 08:15: Monday's closed this morning, so only Monday is left out.
    assert booked(school) == {"2026-12-01": "special", "2026-12-02": "special", "2026-12-03": "special",
                              "2026-12-04": "special"}
    school.clock.now = zurich(2026, 11, 29, 9, 0)  # Sunday: Tuesday's special meal is fixed, Thursday's not
    browser = school.logged_in("F01")  # (a session lasts 12 hours at most)
    week_action(browser, "2026-11-30", "cancel", weekdays=(1, 3))
    assert booked(school) == {"2026-12-01": "special", "2026-12-02": "special", "2026-12-04": "special"}
    subjects = [subject for subject, _body in mails(school)]
    assert subjects == ["Réservations de Léa : 4 jours réservés", "Réservations de Léa : 1 jour annulé"]
    assert "Pas changé : mardi 1er décembre (Les repas spéciaux se modifient jusqu'à 08:15 le samedi 28 novembre" \
        in text_of(browser.get(f"{AGENDA}?week=2026-11-30"))


def test_a_week_already_booked_changes_nothing_and_sends_no_mail(school):
    browser = school.logged_in("F01")
    week_action(browser, "2026-12-07", "book")
    page = text_of(browser.get(week_action(browser, "2026-12-07", "book").headers["Location"]))
    assert "Rien à changer" in page and len(mails(school)) == 1


def test_a_week_of_special_meals_over_normal_ones_says_which_days_keep_their_normal_meal(school):
    browser = school.logged_in("F01")
    week_action(browser, "2026-12-07", "book", weekdays=(0, 1))
    page = text_of(browser.get(week_action(browser, "2026-12-07", "book", kind="special").headers["Location"]))
    assert "Réservé : mercredi 9 décembre, jeudi 10 décembre, vendredi 11 décembre." in page
    assert ("Laissés avec le repas normal déjà réservé : lundi 7 décembre, mardi 8 décembre. Pour changer de repas,"
            " annulez d'abord le jour.") in page
    assert booked(school) == {"2026-12-07": "normal", "2026-12-08": "normal", "2026-12-09": "special",
                              "2026-12-10": "special", "2026-12-11": "special"}
    page = text_of(browser.get(week_action(browser, "2026-12-07", "book", weekdays=(0, 1),
                                           kind="special").headers["Location"]))
    assert "Laissés avec le repas normal déjà réservé" in page and "Rien à changer" not in page


@pytest.mark.parametrize("data, says", [
    ({"weekdays": [], "action": "book"}, "Choisissez au moins un jour"),
    ({"weekdays": ["5"], "action": "book"}, "Choisissez au moins un jour"),
    ({"weekdays": ["0"], "action": "eat"}, "rechargez l'agenda"),  # not sent by the page: no day to blame
])
def test_a_bad_week_request_is_400_and_writes_nothing(school, data, says):
    browser = school.logged_in("F01")
    answer = browser.submit(AGENDA + "/week", {"week": "2026-12-07", "kind": "normal", **data}, form_page=AGENDA)
    assert answer.status_code == 400 and booked(school) == {} and mails(school) == []
    assert says in text_of(answer)


def test_another_familys_week_is_not_found(school):
    answer = school.logged_in("F02").submit(AGENDA + "/week", {"week": "2026-12-07", "weekdays": ["0"],
                                                               "kind": "normal", "action": "book"},
                                            form_page="/children/P002/agenda")
    assert answer.status_code == 404 and booked(school) == {}


@pytest.mark.parametrize("monday, at_utc, monday_booked", [
    # Summer time starts on Sunday 28 March 2027: 08:15 in Zurich is 07:15 UTC before it, 06:15 UTC after.
    (date(2027, 3, 22), datetime(2027, 3, 22, 7, 14, tzinfo=UTC), True),
    (date(2027, 3, 29), datetime(2027, 3, 29, 6, 14, tzinfo=UTC), True),
    (date(2027, 3, 29), datetime(2027, 3, 29, 6, 16, tzinfo=UTC), False),
    # Winter time comes back on Sunday 31 October 2027.
    (date(2027, 10, 25), datetime(2027, 10, 25, 6, 16, tzinfo=UTC), False),
    (date(2027, 11, 1), datetime(2027, 11, 1, 7, 14, tzinfo=UTC), True),
    (date(2027, 11, 1), datetime(2027, 11, 1, 7, 16, tzinfo=UTC), False),
])
def test_the_week_follows_the_zurich_wall_clock_across_both_summer_time_changes(school, monday, at_utc,
                                                                               monday_booked):
    school.clock.now = at_utc
    week_action(school.logged_in("F01"), monday.isoformat(), "book")
    assert (monday.isoformat() in booked(school)) is monday_booked
    assert (monday + timedelta(days=1)).isoformat() in booked(school)


# -- the standing order --------------------------------------------------------------------------

def test_a_standing_order_books_a_week_ahead_skips_closed_days_and_keeps_a_day_cancelled_by_hand(school):
    close(school, date(2026, 12, 10), date(2026, 12, 10), "Fête")
    school.clock.now = zurich(2026, 11, 30, 12, 0)  # Monday noon
    browser = school.logged_in("F01")
    assert standing_order(browser, (0, 1, 3), "2026-12-18").status_code == 302
    # At once: the rest of this week and next week; Monday 30 is past 08:15, Thursday 10 closed.
    assert booked(school) == {"2026-12-01": "normal", "2026-12-03": "normal", "2026-12-07": "normal",
                              "2026-12-08": "normal"}
    ((subject, body),) = mails(school)
    assert subject == "Commande permanente de Léa"
    assert "un repas normal les lundis, mardis et jeudis, jusqu'au vendredi 18 décembre 2026." in body
    assert "- jeudi 10 décembre 2026 : La cantine est fermée le jeudi 10 décembre (Fête)." in body
    page = text_of(browser.get(f"{AGENDA}?week=2026-12-07"))
    assert "Un repas normal les lundis, mardis et jeudis, jusqu'au vendredi 18 décembre 2026." in page
    assert page.count("Commande permanente") >= 3  # the section, and the days it covers

    assert apply_due(school) == 0 and len(mails(school)) == 1  # this week is done: nothing twice
    browser.submit(AGENDA, {"day": "2026-12-08", "choice": "none"}, form_page=f"{AGENDA}?week=2026-12-07")
    school.clock.now = zurich(2026, 12, 7, 7, 0)  # next Monday, before anyone is up
    assert apply_due(school) == 1
    assert booked(school) == {"2026-12-01": "normal", "2026-12-03": "normal", "2026-12-07": "normal",
                              "2026-12-14": "normal", "2026-12-15": "normal", "2026-12-17": "normal"}
    assert [subject for subject, _body in mails(school)][-1] == "Commande permanente de Léa"
    assert len(mails(school)) == 3  # the order, the cancelled day, the week it booked
    school.clock.now = zurich(2026, 12, 14, 7, 0)
    assert apply_due(school) == 0  # its last day is booked: the order has nothing more to do


def test_two_mail_senders_at_once_book_a_standing_orders_week_once(school):
    """The job on two machines at the same moment, each with its own connections."""
    standing_order(school.logged_in("F01"), (0, 2, 4), "2027-01-29")
    school.clock.now = zurich(2026, 12, 7, 0, 1)  # just past midnight: the week after next is due
    machines = [make_engine(school.live.engine.url.render_as_string(hide_password=False)) for _ in range(2)]
    start = threading.Barrier(2)

    def send(engine) -> int:
        start.wait()
        return standing_orders.apply_due(engine, school.clock.now, portal_url="https://portal.test/", canteen={})

    try:
        with ThreadPoolExecutor(2) as pool:
            acted = list(pool.map(send, machines))
    finally:
        for engine in machines:
            engine.dispose()
    assert sorted(acted) == [0, 1] and len(mails(school)) == 2
    assert [day for day in booked(school) if day >= "2026-12-14"] == ["2026-12-14", "2026-12-16", "2026-12-18"]


def test_a_special_standing_order_meets_the_three_day_rule_across_the_change_to_summer_time(school):
    # Monday 29 March 2027 (summer time since Sunday): its special meal closes on Friday 26 March at
    # 08:15 in Zurich, still winter time, which is 07:15 UTC.
    school.clock.now = datetime(2027, 3, 26, 7, 15, tzinfo=UTC)
    standing_order(school.logged_in("F01"), (0,), "2027-04-30", kind="special")
    assert booked(school) == {"2027-03-29": "special"}
    school.clock.now = datetime(2027, 3, 26, 7, 16, tzinfo=UTC)  # a minute later, Zoé's order misses it
    standing_order(school.logged_in("F01"), (0, 1), "2027-04-30", kind="special", pupil_id="P003")
    assert "- lundi 29 mars 2027 : Les repas spéciaux se modifient jusqu'à 08:15 le vendredi 26 mars" in \
        mails(school)[-1][1]
    assert "- mardi 30 mars 2027, repas spécial" in mails(school)[-1][1]


def test_a_stopped_standing_order_books_nothing_more_and_leaves_its_days_booked(school):
    browser = school.logged_in("F01")
    standing_order(browser, (2,), "2027-01-29")
    before = booked(school)
    assert before == {"2026-12-02": "normal", "2026-12-09": "normal"}
    answer = browser.submit("/children/P001/standing-order/stop", {}, form_page=AGENDA)
    page = text_of(browser.get(answer.headers["Location"]))
    assert "Commande permanente arrêtée." in page and "Créer une commande permanente" in page
    school.clock.now += timedelta(days=14)
    assert apply_due(school) == 0 and booked(school) == before


def test_a_standing_order_or_its_stop_sent_with_a_week_that_is_not_a_date_is_400_and_changes_nothing(school):
    browser = school.logged_in("F01")
    answer = browser.submit("/children/P001/standing-order", {"weekdays": ["1"], "kind": "normal",
                                                              "until": "2026-12-18", "week": "2026-13-45"},
                            form_page=AGENDA)
    assert answer.status_code == 400 and booked(school) == {} and mails(school) == []
    with school.live.write() as conn:
        assert standing_orders.of_child(conn, "P001") is None
    standing_order(browser, (2,), "2027-01-29")
    answer = browser.submit("/children/P001/standing-order/stop", {"week": "zzz"}, form_page=AGENDA)
    assert answer.status_code == 400
    with school.live.write() as conn:
        assert standing_orders.of_child(conn, "P001") is not None


def test_a_child_moved_to_another_family_takes_no_standing_order_of_the_old_one_along(school):
    from sync_server.admin import pupils

    standing_order(school.logged_in("F01"), (2,), "2027-01-29")
    with school.live.write() as conn:
        pupils.move(conn, "P001", "F02", school.clock.now)
        assert standing_orders.of_child(conn, "P001") is None
    school.clock.now += timedelta(days=14)
    assert apply_due(school) == 0


@pytest.mark.parametrize("weekdays, until, says", [
    ((), "2026-12-18", None), ((0,), "2026-11-01", "se termine aujourd'hui ou plus tard"),
    ((0,), "2028-01-01", "au plus 366 jours"),
    ((3, 4), "2026-12-01", "Aucun des jours choisis ne tombe entre aujourd'hui et le mardi 1er décembre :"),
])
def test_a_bad_standing_order_is_refused_and_stores_nothing(school, weekdays, until, says):
    browser = school.logged_in("F01")
    answer = standing_order(browser, weekdays, until)
    if says is None:
        assert answer.status_code == 400
    else:
        assert says in text_of(browser.get(answer.headers["Location"]))
    with school.live.write() as conn:
        assert standing_orders.of_child(conn, "P001") is None
    assert booked(school) == {} and mails(school) == []


# -- the grid ------------------------------------------------------------------------------------

def test_the_grid_shows_each_days_dish_and_offers_only_the_changes_still_open_with_deadlines_in_words(school):
    from domain.roster import parse_csv
    from sync_server.admin import menu_import

    csv = ("date,course,dish,allergens,labels\n2026-12-01,Plat,Émincé de poulet,,\n"
           "2026-12-01,Dessert,Salade de fruits,,vegan\n")
    with school.live.write() as conn:
        menu_import.import_menus(conn, *parse_csv(csv.encode()), school.clock.now)
    page = text_of(school.logged_in("F01").get(f"{AGENDA}?week=2026-11-30"))
    monday, tuesday = page.split("lundi 30 novembre 2026")[1].split("mardi 1er décembre 2026")
    tuesday = tuesday.split("mercredi 2 décembre 2026")[0]
    # Monday noon: Monday's meal is fixed; Tuesday's normal meal open until tomorrow 08:15, its special meal not.
    assert "Réserver" not in monday and "Plus modifiable ici" in monday
    assert "Émincé de poulet · Salade de fruits" in tuesday
    assert "Réserver un repas normal" in tuesday and "Réserver un repas spécial" not in tuesday
    assert "Repas normal : jusqu'à mardi 08:15." in tuesday
    friday = page.split("vendredi 4 décembre 2026")[1]
    assert "Repas spécial : jusqu'à mardi 08:15." in friday and "Menu pas encore publié" in friday
    assert not re.search(r"\d{4}-\d\d-\d\d", page)  # no ISO date in what a parent reads


def test_a_week_further_ahead_than_bookings_open_says_so_rather_than_a_passed_deadline(school):
    page = text_of(school.logged_in("F01").get(f"{AGENDA}?week=2027-12-06"))
    assert page.count("Les réservations s'ouvrent au plus 366 jours à l'avance.") == 5
    assert "Plus modifiable ici" not in page


def test_in_english_the_grid_the_result_and_the_mail_read_in_english(school):
    close(school, date(2026, 12, 2), date(2026, 12, 2), "School trip")
    browser = school.logged_in("F01")
    browser.submit("/language", {"language": "en", "next": AGENDA}, form_page="/")
    page = text_of(browser.get(f"{AGENDA}?week=2026-11-30"))
    assert "Normal meal: until Tuesday 08:15." in page and "Special meal: until Tuesday 08:15." in page
    answer = week_action(browser, "2026-11-30", "book", weekdays=(1, 2, 3))
    result = text_of(browser.get(answer.headers["Location"]))
    assert "Booked: Tuesday 1 December, Thursday 3 December." in result
    assert "Not changed: Wednesday 2 December (The canteen is closed on Wednesday 2 December (School trip).)" in result
    ((subject, body),) = mails(school)
    assert subject == "Reservations for Léa: 2 days booked" and "- Tuesday 1 December 2026, normal meal" in body


def test_the_standing_order_form_proposes_the_end_of_term(school):
    close(school, date(2026, 12, 21), date(2027, 1, 1), "Vacances de Noël")
    page = school.logged_in("F01").get(AGENDA)
    assert "Fin de la période : vendredi 18 décembre 2026." in text_of(page)
    assert 'value="2026-12-18"' in page.text  # the date the order runs to, unless the parent changes it
