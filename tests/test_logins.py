"""The portal's and the back office's logins are one flow: the same answers to a wrong password,
the same throttling (each role counting its own attempts), a fresh session that keeps the chosen
language, and a line in the log for every attempt."""

from __future__ import annotations

import logging

import pytest

from sync_server.admin import audit

from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

LOGIN_PAGES = {"family": "/login", "manager": "/manage/login"}


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def credentials(school, role: str) -> dict:
    if role == "family":
        return {"login": school.letters["F01"].login, "password": school.letters["F01"].password}
    return {"login": "sandra", "password": school.manager_password}


@pytest.mark.parametrize("role", LOGIN_PAGES)
def test_ten_wrong_passwords_lock_the_account_at_either_login_even_for_the_right_password(school, role):
    browser = school.browser()
    right = credentials(school, role)
    for _ in range(10):
        wrong = browser.submit(LOGIN_PAGES[role], {**right, "password": "guess"})
        assert wrong.status_code == 401 and "Identifiant ou mot de passe incorrect" in text_of(wrong)
    refused = browser.submit(LOGIN_PAGES[role], right)
    assert refused.status_code == 429 and "Trop de tentatives" in text_of(refused)


def test_guessing_a_manager_login_at_the_family_login_does_not_lock_the_manager_out(school):
    browser = school.browser()
    for _ in range(10):
        assert browser.submit("/login", {"login": "sandra", "password": "guess"}).status_code == 401
    assert browser.submit("/manage/login", credentials(school, "manager")).status_code == 302


@pytest.mark.parametrize("role", LOGIN_PAGES)
def test_logging_in_keeps_the_language_chosen_on_the_login_page(school, role):
    browser = school.browser()
    switched = browser.submit("/language", {"language": "en", "next": LOGIN_PAGES[role]}, form_page="/login")
    assert switched.status_code == 302
    assert browser.submit(LOGIN_PAGES[role], credentials(school, role)).status_code == 302
    page = browser.get(browser.last.headers["Location"])
    assert page.status_code == 200 and '<html lang="en">' in page.text


@pytest.mark.parametrize("role", LOGIN_PAGES)
def test_every_login_attempt_is_logged_with_the_role_and_a_failed_one_with_its_address(school, role, caplog):
    caplog.set_level(logging.INFO)
    browser = school.browser()
    browser.submit(LOGIN_PAGES[role], {**credentials(school, role), "password": "guess"})
    browser.submit(LOGIN_PAGES[role], credentials(school, role))
    lines = [record.getMessage() for record in caplog.records]
    login = credentials(school, role)["login"]
    assert any(line.startswith(f"failed {role} login for {login!r} from ") for line in lines), lines
    assert any(line.startswith(f"{role} ") and line.endswith(" logged in") for line in lines), lines


def test_a_manager_login_is_written_to_the_audit_log_and_a_family_login_is_not(school):
    school.logged_in("F01")
    school.manager()
    with school.live.write() as conn:
        logins = [entry for entry in audit.recent(conn) if entry.action.endswith(".login")]
    assert [(entry.actor, entry.action) for entry in logins] == [("sandra", "manager.login")]
