"""Every refusal reason of the pure meal decision, and what a served verdict carries."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.i18n import gettext_for
from domain.meals import BadgeStatus, CounterFacts, HoldReason, Pupil, Refusal, ReservationKind, decide_meal
from domain.settings import Settings

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
LEA = Pupil("P001", "Léa", "Müller", "5A", "primary")
SETTINGS = Settings.from_mapping({})
fr = gettext_for("fr")


def decide(unknown_badge=False, settings=SETTINGS, now=MONDAY_NOON, **overrides):
    facts = dict(badge_status=BadgeStatus.ACTIVE, pupil=LEA, balance_cents=30_00, reservation=ReservationKind.NORMAL)
    facts.update(overrides)
    return decide_meal(None if unknown_badge else CounterFacts(**facts), settings=settings, now=now)


def test_a_pupil_with_enough_money_is_served_and_sees_the_balance_after():
    verdict = decide()
    assert verdict.served and verdict.reason is None
    assert verdict.price_cents == 700 and verdict.balance_cents == 23_00
    assert verdict.message.render(fr) == "Bon appétit !"
    assert verdict.balance_line().render(fr) == "Solde CHF 23.00"
    assert verdict.hints() == []


def test_a_balance_exactly_equal_to_the_price_is_enough_and_leaves_zero():
    verdict = decide(balance_cents=700)
    assert verdict.served and verdict.balance_cents == 0 and verdict.low_balance


@pytest.mark.parametrize(
    ("overrides", "reason", "french"),
    [
        (dict(unknown_badge=True), Refusal.UNKNOWN_BADGE, "Badge inconnu : va à la caisse."),
        (dict(badge_status=BadgeStatus.LOST), Refusal.BADGE_DISABLED,
         "Badge bloqué (perdu) : va à la caisse."),
        (dict(badge_status=BadgeStatus.REPLACED), Refusal.BADGE_DISABLED,
         "Ancien badge, bloqué : va à la caisse."),
        (dict(pupil=Pupil("P001", "Léa", "Müller", "5A", "primary", active=False)), Refusal.PUPIL_INACTIVE,
         "Pas d'inscription à la cantine : va à la caisse."),
        (dict(hold=HoldReason.REFUND), Refusal.ACCOUNT_ON_HOLD,
         "Compte fermé (remboursement) : va à la caisse."),
        (dict(hold=HoldReason.MANAGER), Refusal.ACCOUNT_ON_HOLD, "Compte bloqué : va voir le responsable."),
        (dict(now=MONDAY_NOON - timedelta(hours=2)), Refusal.OUTSIDE_SERVICE_HOURS,
         "Repas servis de 11:00 à 14:00."),
        (dict(now=MONDAY_NOON + timedelta(hours=2)), Refusal.OUTSIDE_SERVICE_HOURS,
         "Repas servis de 11:00 à 14:00."),
        (dict(now=MONDAY_NOON - timedelta(days=2)), Refusal.OUTSIDE_SERVICE_HOURS,
         "Pas de repas aujourd'hui."),
        (dict(served_today=(MONDAY_NOON - timedelta(minutes=57),)), Refusal.ALREADY_SERVED,
         "Tu as déjà mangé aujourd'hui à 11:03."),
        (dict(balance_cents=350), Refusal.INSUFFICIENT_BALANCE,
         "Pas assez d'argent : va à la caisse."),
        (dict(reservation=None, settings=Settings.from_mapping({"reservation.required": "true"})),
         Refusal.RESERVATION_REQUIRED,
         "Pas de réservation aujourd'hui : va à la caisse."),
        (dict(pupil=Pupil("P009", "Max", "Roux", "1C", "kindergarten")), Refusal.NO_PRICE,
         "Aucun tarif pour la catégorie « kindergarten ». Adressez-vous au responsable."),
    ],
)
def test_each_refusal_has_one_reason_and_a_french_message(overrides, reason, french):
    verdict = decide(**overrides)
    assert not verdict.served
    assert verdict.reason is reason
    assert verdict.message.render(fr) == french


def test_a_refused_pupil_sees_the_current_balance_and_the_price():
    verdict = decide(balance_cents=350)
    assert verdict.balance_cents == 350 and verdict.price_cents == 700
    assert verdict.balance_line().render(fr) == "Solde CHF 3.50 · repas CHF 7.00"  # one short line, on its own


def test_service_hours_are_decided_in_zurich_time_across_daylight_saving():
    summer_noon_utc = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)  # 12:30 in Zurich (UTC+2)
    assert decide(now=summer_noon_utc).served
    winter_1030_utc = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # 11:30 in Zurich (UTC+1)
    assert decide(now=winter_1030_utc).served
    assert decide(now=datetime(2026, 6, 15, 8, 30, tzinfo=UTC)).reason is Refusal.OUTSIDE_SERVICE_HOURS


def test_a_second_meal_is_allowed_when_the_setting_allows_two_per_day():
    two = Settings.from_mapping({"meals.per_day": "2"})
    assert decide(settings=two, served_today=(MONDAY_NOON,)).served
    assert decide(settings=two, served_today=(MONDAY_NOON, MONDAY_NOON)).reason is Refusal.ALREADY_SERVED


def test_a_pupil_with_a_diet_gets_the_special_meal_banner_with_the_diet_text():
    verdict = decide(pupil=Pupil("P002", "Noé", "Favre", "9B", "secondary", diet="Sans gluten"))
    assert verdict.special_meal == "Sans gluten"
    assert verdict.hints()[0].render(fr) == "Repas spécial : Sans gluten"


def test_a_special_reservation_shows_the_banner_even_without_a_recorded_diet():
    verdict = decide(reservation=ReservationKind.SPECIAL)
    assert verdict.special_meal == ""
    assert [h.render(fr) for h in verdict.hints()] == ["Repas spécial (réservé)"]


def test_a_pupil_without_reservation_is_served_and_flagged_when_reservation_is_optional():
    verdict = decide(reservation=None)
    assert verdict.served and verdict.without_reservation
    assert "Sans réservation aujourd'hui : c'est en ordre." in [h.render(fr) for h in verdict.hints()]


def test_a_balance_under_the_threshold_after_the_meal_suggests_a_top_up():
    assert not decide(balance_cents=27_00).low_balance  # 20.00 left: not under the 20.00 threshold
    assert decide(balance_cents=26_95).low_balance
    verdict = decide(balance_cents=10_00)
    assert "Solde bas : dis-le à tes parents." in [h.render(fr) for h in verdict.hints()]


def test_prices_follow_the_pupil_category():
    staff = Pupil("S001", "Anne", "Berset", "Staff", "staff")
    assert decide(pupil=staff).price_cents == 1000
    cheaper = Settings.from_mapping({"price.staff": "9.50"})
    assert decide(pupil=staff, settings=cheaper).price_cents == 950
