"""Back-office roles: a kitchen login sees menus and counts and never money; an accountant reads
the money pages and changes nothing; a manager does everything. Tested page by page, the way the
families' pages are tested against another family's ids."""

from __future__ import annotations

import re

import pytest

from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

MONEY_PAGES = ("/manage/bank/waiting", "/manage/payments", "/manage/refunds", "/manage/journal",
               "/manage/quarantine")
MONEY_ACTIONS = ("/manage/bank", "/manage/bank/waiting/B-4", "/manage/payments/R1/refresh",
                 "/manage/refunds/1/approve", "/manage/refunds/payments.xml")


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def test_a_kitchen_login_gets_403_on_every_money_page_and_action_and_sees_none_in_its_menu(school):
    kitchen = school.staff("kitchen")
    home = kitchen.get("/manage/")
    assert home.status_code == 200
    menu = home.text[home.text.index("<nav"):home.text.index("</nav>")]
    assert "Banque" not in menu and "Remboursements" not in menu and "Journal" not in menu
    for path in MONEY_PAGES:
        assert kitchen.get(path).status_code == 403, path
    for path in MONEY_ACTIONS:
        assert kitchen.post(path, {"csrf_token": kitchen.token("/manage/")}).status_code == 403, path


def test_an_accountant_reads_the_money_pages_and_can_change_nothing(school):
    accountant = school.staff("accountant")
    for path in MONEY_PAGES:
        assert accountant.get(path).status_code == 200, path
    for path in MONEY_ACTIONS:
        assert accountant.post(path, {"csrf_token": accountant.token("/manage/")}).status_code == 403, path
    assert accountant.get("/manage/bank").status_code == 403  # the upload form is a change


def test_a_manager_opens_every_section_of_the_menu(school):
    manager = school.manager()
    menu_page = manager.get("/manage/").text
    links = re.findall(r'<a href="(/manage/[^"]*)"', menu_page)
    assert "/manage/bank" in links and "/manage/journal" in links
    for link in links:
        assert manager.get(link).status_code == 200, link
    assert "Sandra Morel" in text_of(manager.get("/manage/"))
