"""Back-office roles: a kitchen login sees menus and counts and never money; an accountant reads
the money pages and changes nothing; a manager does everything; a family's login never gets in.

Every route of the back office is checked for every role, from the app's URL map against the
table below: a new page fails here until its roles are written in the table. The guard is the same
code on both databases (a role is read with the login, which test_backoffice_staff.py checks on
each), so this walk runs on SQLite only."""

from __future__ import annotations

import re

import pytest
from flask import url_for
from werkzeug.routing.converters import NumberConverter

from sync_server.admin.managers import ACCOUNTANT, KITCHEN, MANAGER, ROLES

from .portal_client import start_school, text_of
from .test_backoffice_overview import waiting_credit_and_refund_request

MONEY = (MANAGER, ACCOUNTANT)
# endpoint → roles that may open it (GET) and roles that may change through it (POST)
ALLOWED = {
    "backoffice.index": {"GET": ROLES},
    "backoffice.low_balances": {"GET": (MANAGER,)},
    "backoffice.bank": {"GET": (MANAGER,), "POST": (MANAGER,)},  # the upload form is a change
    "backoffice.waiting": {"GET": MONEY},
    "backoffice.assign": {"POST": (MANAGER,)},
    "backoffice.payments": {"GET": MONEY},
    "backoffice.refresh_payment": {"POST": (MANAGER,)},
    "backoffice.credit_settled": {"POST": (MANAGER,)},
    "backoffice.refunds_queue": {"GET": MONEY},
    "backoffice.approve_refund": {"POST": (MANAGER,)},
    "backoffice.refuse_refund": {"POST": (MANAGER,)},
    "backoffice.refund_paid": {"POST": (MANAGER,)},
    "backoffice.refunds_file": {"POST": (MANAGER,)},
    "backoffice.quarantine": {"GET": MONEY},
    "backoffice.journal": {"GET": MONEY},
    "backoffice.staff": {"GET": (MANAGER,)},
    "backoffice.add_cashier": {"POST": (MANAGER,)},
    "backoffice.cashier_pin": {"POST": (MANAGER,)},
    "backoffice.cashier_badge": {"POST": (MANAGER,)},
    "backoffice.add_login": {"POST": (MANAGER,)},
    "backoffice.login_role": {"POST": (MANAGER,)},
    "backoffice.login_password": {"POST": (MANAGER,)},
    "backoffice.confirm_login_remove": {"GET": (MANAGER,)},
    "backoffice.login_remove": {"POST": (MANAGER,)},
    "backoffice.pupils": {"GET": (MANAGER,)},
    "backoffice.pupil_new": {"GET": (MANAGER,), "POST": (MANAGER,)},
    "backoffice.pupil": {"GET": (MANAGER,)},
    "backoffice.pupil_edit": {"POST": (MANAGER,)},
    "backoffice.pupil_leave": {"POST": (MANAGER,)},
    "backoffice.pupil_move": {"POST": (MANAGER,)},
    "backoffice.badge_assign": {"POST": (MANAGER,)},
    "backoffice.badge_lost": {"POST": (MANAGER,)},
    "backoffice.badge_replace": {"POST": (MANAGER,)},
    "backoffice.family": {"GET": (MANAGER,)},
    "backoffice.family_email": {"POST": (MANAGER,)},
    "backoffice.family_letter": {"POST": (MANAGER,)},
    "backoffice.class_letters": {"POST": (MANAGER,)},
    "backoffice.roster_upload": {"GET": (MANAGER,), "POST": (MANAGER,)},
    "backoffice.roster_confirm": {"POST": (MANAGER,)},
    "backoffice.settings": {"GET": (MANAGER,), "POST": (MANAGER,)},
    "backoffice.calendar": {"GET": (MANAGER,)},
    "backoffice.change_calendar": {"POST": (MANAGER,)},
    "backoffice.menus": {"GET": (MANAGER, KITCHEN), "POST": (MANAGER, KITCHEN)},
    "backoffice.menu_day": {"GET": (MANAGER, KITCHEN), "POST": (MANAGER, KITCHEN)},
    "backoffice.documents": {"GET": (MANAGER,), "POST": (MANAGER,)},
    "backoffice.withdraw_document": {"POST": (MANAGER,)},
    "backoffice.cash": {"GET": MONEY},
    "backoffice.cash_csv": {"GET": MONEY},
    "backoffice.kiosks": {"GET": (MANAGER,)},
    "backoffice.kiosk_code": {"POST": (MANAGER,)},
    "backoffice.confirm_revoke": {"GET": (MANAGER,)},
    "backoffice.revoke_kiosk": {"POST": (MANAGER,)},
    "backoffice.kitchen": {"GET": (MANAGER, KITCHEN)},
    "backoffice.kitchen_csv": {"GET": (MANAGER, KITCHEN)},
    "backoffice.kitchen_pdf_file": {"GET": (MANAGER, KITCHEN)},
    "backoffice.pupil_meals": {"GET": (MANAGER,)},
    "backoffice.book_pupil_meal": {"POST": (MANAGER,)},
    "backoffice.exclude_pupil": {"POST": (MANAGER,)},
    "backoffice.lift_exclusion": {"POST": (MANAGER,)},
    "backoffice.standing_orders_page": {"GET": (MANAGER,)},
    "backoffice.cancel_standing_order": {"POST": (MANAGER,)},
}
OPEN_TO_ALL = {"backoffice.login", "backoffice.logout"}  # the way in and out


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def _routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, a URL for it) for every back-office route."""
    found = []
    with app.test_request_context(base_url="https://portal.test"):
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("backoffice.") and rule.endpoint not in OPEN_TO_ALL:
                values = {name: 1 if isinstance(converter, NumberConverter) else "X"  # no such record
                          for name, converter in rule._converters.items()}
                url = url_for(rule.endpoint, **values)
                found += [(rule.endpoint, method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _answers(browser, method: str, url: str, token: str):
    return browser.get(url) if method == "GET" else browser.post(url, {"csrf_token": token})


def test_every_back_office_route_names_the_roles_allowed_on_it(school):
    missing = sorted({f"{endpoint} {method}" for endpoint, method, _url in _routes(school.app)
                      if method not in ALLOWED.get(endpoint, {})})
    assert not missing, f"add these back-office routes to ALLOWED with the roles they let in: {missing}"
    changing = [endpoint for endpoint, methods in ALLOWED.items() if ACCOUNTANT in methods.get("POST", ())]
    assert not changing, f"an accountant changes nothing: {changing}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_403_on_every_route_not_its_own_and_through_on_its_own(school, role):
    browser = school.staff(role) if role != MANAGER else school.manager()
    token = browser.token("/manage/")
    wrong = []
    for endpoint, method, url in _routes(school.app):
        status = _answers(browser, method, url, token).status_code
        allowed = role in ALLOWED[endpoint][method]
        if allowed and (status == 403 or status >= 500 or browser.last.headers.get("Location") == "/manage/login"):
            wrong.append(f"{method} {url} ({endpoint}): {status}, expected the {role} let in")
        if not allowed and status != 403:
            wrong.append(f"{method} {url} ({endpoint}): {status}, expected 403 for a {role}")
    assert not wrong, "\n".join(wrong)


def test_a_family_login_and_no_login_never_get_into_the_back_office(school):
    family = school.logged_in("F01")
    token = family.token("/")
    for browser in (family, school.browser()):
        for endpoint, method, url in _routes(school.app):
            response = _answers(browser, method, url, token)
            assert response.status_code in (302, 400) and response.headers.get("Location", "/manage/login") \
                == "/manage/login", f"{method} {url} ({endpoint}): {response.status_code}"


def test_a_kitchen_login_sees_no_money_in_its_menu_or_overview(school):
    home = school.staff(KITCHEN).get("/manage/")
    menu = home.text[home.text.index("<nav"):home.text.index("</nav>")]
    assert "Banque" not in menu and "Remboursements" not in menu and "Journal" not in menu
    assert "Argent en attente" not in text_of(home) and "Soldes bas" not in text_of(home)


def test_an_accountant_reads_the_money_pages_without_their_buttons(school):
    with school.live.write() as conn:
        waiting_credit_and_refund_request(conn, school.clock.now)
    for role, forms in ((MANAGER, True), (ACCOUNTANT, False)):
        browser = school.manager() if role == MANAGER else school.staff(role)
        for path in ("/manage/bank/waiting", "/manage/refunds"):
            page = browser.get(path)
            actions = set(re.findall(r'<form method="post" action="([^"]+)"', page.text)) - {"/manage/logout"}
            assert page.status_code == 200 and bool(actions) == forms, (role, path, actions)


def test_a_manager_opens_every_section_of_the_menu(school):
    manager = school.manager()
    menu_page = manager.get("/manage/").text
    links = re.findall(r'<a href="(/manage/[^"]*)"', menu_page)
    assert "/manage/bank" in links and "/manage/journal" in links and "/manage/staff" in links
    for link in links:
        assert manager.get(link).status_code == 200, link
    assert "Sandra Morel" in text_of(manager.get("/manage/"))
