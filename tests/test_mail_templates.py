"""The e-mails families receive, rendered from their templates: every one reads in the family's
language from greeting to signature, names and reasons arrive as typed, and a template missing a
fact fails here rather than sending a blank. The exact wording of each mail is checked by the
tests of the feature that sends it (refunds, alerts, payments, reservations, bank import)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from jinja2 import UndefinedError

from domain.agenda import AgendaDay, ClosedDayError, day_in_words
from domain.i18n import LANGUAGES, translations
from domain.meals import ReservationKind
from sync_server.families.accounts import Child
from sync_server.families.reservations import DaysChange, ReservationChange
from sync_server.families.standing_orders import StandingOrder
from sync_server.mail.compose import TEMPLATES, compose
from sync_server.money.online_payments import Payment, PaymentStatus
from sync_server.money.refunds import RefundRequest, Status
from sync_server.money.sibling_transfers import SiblingTransfer
from sync_server.money.sibling_transfers import Status as TransferStatus

from .conftest import MONDAY_NOON

CANTEEN = {"name": "Réfectoire du Bourg", "phone": "079 000 00 00", "email": "cantine@example.ch"}
URL = "https://portal.test/"
WEDNESDAY = date(2026, 12, 2)
LAYOUT = "family_mail.txt"

CHILD = Child("P001", "Léa", "Müller", "5A", "", 2550, False, 0)
REQUEST = RefundRequest(1, "P001", "F01", "Léa", "Müller", "CH9300762011623852957", "Anna Müller", Status.REQUESTED,
                        MONDAY_NOON, None, None, None, None, 2550, None, None, None, None, None)
AGENDA_DAY = AgendaDay(WEDNESDAY, True, None, None, MONDAY_NOON, MONDAY_NOON)
TRANSFER = SiblingTransfer("0190c2a4-0000-7000-8000-000000000001", "F01", "P001", "Léa", "P003", "Zoé", 1250,
                           TransferStatus.BOOKED, MONDAY_NOON, 1, MONDAY_NOON, None, None)
PAYMENT = Payment("R-1", "T-1", "F01", "P001", 5000, "twint", PaymentStatus.PAID, "settled", MONDAY_NOON, MONDAY_NOON,
                  None, "Léa", "Müller")

# The facts each mail is sent with; a new template needs its line here.
FACTS = {
    "refund_requested": {"request": REQUEST, "balance_cents": 2550},
    "refund_approved": {"request": replace(REQUEST, status=Status.APPROVED)},
    "refund_to_pay": {"request": replace(REQUEST, status=Status.TO_PAY)},
    "refund_closed": {"request": replace(REQUEST, status=Status.CLOSED, amount_cents=0)},
    "refund_paid": {"request": replace(REQUEST, status=Status.PAID)},
    "refund_refused": {"request": replace(REQUEST, status=Status.REFUSED, refusal_reason="IBAN d'une autre famille")},
    "reservation_confirmed": {"done": ReservationChange(CHILD, WEDNESDAY, None, ReservationKind.SPECIAL, AGENDA_DAY)},
    "reservation_cancelled": {"done": ReservationChange(CHILD, WEDNESDAY, ReservationKind.NORMAL, None, AGENDA_DAY)},
    "reservation_days": {"done": DaysChange(
        CHILD, ReservationKind.NORMAL, [ReservationChange(CHILD, WEDNESDAY, None, ReservationKind.NORMAL, AGENDA_DAY)],
        [], [(date(2026, 12, 3), ClosedDayError("The canteen is closed on {day} ({reason}).",
                                                day=day_in_words(date(2026, 12, 3)), reason="Fête"))]),
        "standing": StandingOrder("P001", frozenset({2, 3}), ReservationKind.NORMAL, date(2026, 12, 18), WEDNESDAY)},
    "low_balance": {"first_name": "Léa", "pupil_id": "P001", "balance_cents": 450, "threshold_cents": 1000},
    "online_payment_received": {"payment": PAYMENT},
    "transfer_received": {"first_name": "Léa", "amount_cents": 7000},
    "qr_bill": {"first_name": "Léa", "amount_cents": None},
    "automatic_topup_charged": {"payment": PAYMENT},
    "automatic_topup_failed": {"first_name": "Léa", "pupil_id": "P001", "amount_cents": 5000, "final": False,
                               "was_off": False, "retry_hours": 3},
    "standing_order_cancelled": {"order": StandingOrder("P001", frozenset({0, 3}), ReservationKind.NORMAL,
                                                        date(2026, 12, 18), WEDNESDAY),
                                 "first_name": "Léa", "reason": "Inscription à la cantine terminée"},
    "sibling_transfer_booked": {"transfer": TRANSFER, "balance_cents": 4250},
    "sibling_transfer_cancelled": {"transfer": replace(TRANSFER, status=TransferStatus.CANCELLED), "balance_cents": 0},
}
MAILS = sorted(path.stem for path in TEMPLATES.glob("*.txt") if path.name != LAYOUT)


def mail(name: str, language: str, canteen: dict = CANTEEN, **facts):
    return compose(name, language, **{"canteen": canteen, "portal_url": URL, **FACTS[name], **facts})


def test_every_mail_template_has_its_facts_here():
    assert sorted(FACTS) == MAILS


@pytest.mark.parametrize("name", MAILS)
def test_every_mail_reads_in_the_familys_language_from_greeting_to_signature(name):
    """A sentence left out of the catalogue (or written without `_()`) would read the same in
    French and English: every line but the signature and the blank ones must differ."""
    french, english = mail(name, "fr"), mail(name, "en")
    for language, sent in (("fr", french), ("en", english)):
        _ = translations(language).gettext
        assert sent.subject.strip() and "\n" not in sent.subject
        assert sent.body.startswith(_("Hello,") + "\n\n")
        closing = _("Questions: {contact}").format(contact="079 000 00 00 · cantine@example.ch")
        assert sent.body.endswith(f"\n\n{closing}\n\nRéfectoire du Bourg\n")
    assert french.subject != english.subject
    french_lines, english_lines = french.body.splitlines(), english.body.splitlines()
    assert len(french_lines) == len(english_lines)
    untranslated = [line for line, other in zip(french_lines[:-1], english_lines[:-1], strict=True)
                    if line and line == other]
    assert untranslated == []


def test_names_and_reasons_reach_the_mail_as_typed_not_html_escaped():
    refused = replace(REQUEST, first_name="Zoé & <Tom>", status=Status.REFUSED, refusal_reason="Compte {clos} à 100%")
    sent = mail("refund_refused", "fr", request=refused)
    assert sent.subject == "Remboursement refusé pour Zoé & <Tom>"
    assert "Zoé & <Tom>" in sent.body
    assert "Compte {clos} à 100%" in sent.body


def test_a_canteen_without_phone_or_email_signs_without_a_questions_line():
    sent = mail("transfer_received", "en", canteen={"name": "Cantine"})
    assert sent.body == ("Hello,\n\nYour transfer of CHF 70.00 for Léa has reached the account.\n\n"
                         f"Balance and history: {URL}\n\nCantine\n")


def test_a_mail_missing_a_fact_is_refused_rather_than_sent_with_a_blank():
    with pytest.raises(UndefinedError, match="request"):
        compose("refund_paid", "fr", canteen=CANTEEN, portal_url=URL)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reservation_day_is_written_out_in_the_familys_language(language):
    subject = mail("reservation_confirmed", language).subject
    assert subject == {"fr": "Réservation confirmée : Léa, mercredi 2 décembre 2026",
                       "en": "Reservation confirmed: Léa, Wednesday 2 December 2026"}[language]


def test_a_qr_bill_with_an_amount_says_it_and_one_without_says_the_family_chooses():
    assert "Montant : CHF 20.00." in mail("qr_bill", "fr", amount_cents=2000).body
    assert "No amount is printed on it: you choose it when you pay." in mail("qr_bill", "en").body


def test_a_declined_automatic_top_up_says_it_is_tried_again_and_a_second_one_that_it_is_off():
    first, last = mail("automatic_topup_failed", "en"), mail("automatic_topup_failed", "en", final=True)
    assert first.subject == "Automatic top-up for Léa declined" and "We will try once more in 3 hours." in first.body
    assert last.subject == "Automatic top-up for Léa turned off"
    assert "automatic top-up is now off for Léa" in last.body
    assert all("https://portal.test/children/P001/automatic" in sent.body for sent in (first, last))


def test_a_declined_charge_that_was_under_way_when_the_family_turned_it_off_says_it_is_not_tried_again():
    for language, words in (("en", "will not be tried again"), ("fr", "elle ne sera pas retentée")):
        sent = mail("automatic_topup_failed", language, was_off=True)
        assert words in sent.body and "https://portal.test/children/P001/topup" in sent.body
    assert mail("automatic_topup_failed", "en", was_off=True).subject == "Automatic top-up for Léa declined"
