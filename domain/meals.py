"""The meal decision: a pure function from what the kiosk knows at a tap to a verdict.

The kiosk store gathers the facts and writes the debit in the same transaction; this module
only decides, so every refusal reason is testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from .clock import local
from .messages import N_, Message
from .money import format_chf
from .settings import Settings


class BadgeStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    REPLACED = "replaced"
    DISABLED = "disabled"


class ReservationKind(StrEnum):
    NORMAL = "normal"
    SPECIAL = "special"


class HoldReason(StrEnum):
    REFUND = "refund"
    MANAGER = "manager"


class Refusal(StrEnum):
    UNKNOWN_BADGE = "unknown_badge"
    BADGE_DISABLED = "badge_disabled"
    PUPIL_INACTIVE = "pupil_inactive"
    ACCOUNT_ON_HOLD = "account_on_hold"
    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    ALREADY_SERVED = "already_served"
    RESERVATION_REQUIRED = "reservation_required"
    NO_PRICE = "no_price"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    KIOSK_FAULT = "kiosk_fault"  # the kiosk could not decide the tap (a full or damaged disk, a bug)


@dataclass(frozen=True, slots=True)
class Pupil:
    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    category: str
    diet: str = ""
    active: bool = True
    family_id: str | None = None


@dataclass(frozen=True, slots=True)
class CounterFacts:
    """What the kiosk knows about a known badge at the moment of a tap.

    Attributes:
      badge_status: the tapped badge's status.
      pupil: the badge's owner.
      balance_cents: the owner's balance before this tap.
      hold: why the account is on hold, if it is.
      hold_note: the manager's own words for a manager hold (an exclusion), shown at the refusal.
      reservation: the owner's reservation for the service day, if any.
      served_today: when the owner was already served that day (reversed meals left out).
    """

    badge_status: BadgeStatus
    pupil: Pupil
    balance_cents: int
    hold: HoldReason | None = None
    reservation: ReservationKind | None = None
    served_today: tuple[datetime, ...] = ()
    hold_note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the counter shows after a tap.

    Attributes:
      served: True when a meal is debited.
      reason: None when served, else the one `Refusal` that applies first.
      message: the main line, rendered in the counter's language: "Enjoy your meal!" when served,
        else the reason and where to go, in a child's words and one short line (the screen shows
        the first name and `balance_line()` on lines of their own).
      pupil: the badge's pupil, when known.
      price_cents: the meal price for the pupil's category, when known.
      balance_cents: balance after the meal when served, current balance when refused.
      special_meal: None, or the diet text for the "special meal" banner ("" when a special
        meal is reserved but no diet is recorded).
      low_balance: the balance after the meal is under the threshold: suggest a top-up.
      without_reservation: the pupil had no reservation for this service day.
      hold_note: the manager's reason for an exclusion, shown under the refusal.
      service_date: the Zurich school day of the tap.
    """

    served: bool
    reason: Refusal | None
    message: Message
    service_date: date
    pupil: Pupil | None = None
    price_cents: int | None = None
    balance_cents: int | None = None
    special_meal: str | None = None
    low_balance: bool = False
    without_reservation: bool = False
    hold_note: str = ""

    def balance_line(self) -> Message | None:
        """The balance on its own line (with the meal's price when that is why the meal is
        refused); None when no pupil is known."""
        if self.balance_cents is None:
            return None
        if self.reason is Refusal.INSUFFICIENT_BALANCE:
            return Message(N_("Balance {balance} · meal {price}"),
                           {"balance": format_chf(self.balance_cents), "price": format_chf(self.price_cents)})
        return Message(N_("Balance {balance}"), {"balance": format_chf(self.balance_cents)})

    def hints(self) -> list[Message]:
        """Secondary lines under the main message, most important first."""
        lines = [Message(N_("Reason: {note}"), {"note": self.hold_note})] if self.hold_note else []
        if self.special_meal:
            lines.append(Message(N_("Special meal: {diet}"), {"diet": self.special_meal}))
        elif self.special_meal is not None:
            lines.append(Message(N_("Special meal (reserved)")))
        if self.without_reservation:
            lines.append(Message(N_("Not reserved today: that's fine.")))
        if self.low_balance:
            lines.append(Message(N_("Low balance: tell your parents.")))
        return lines


# Why a blocked badge is refused, as the manager marked it on the server (every kiosk learns it).
# Every refusal is one short line a child reads at a glance: what happened, then where to go.
_BLOCKED = {
    BadgeStatus.LOST: N_("Badge blocked (lost): go to the cashier."),
    BadgeStatus.REPLACED: N_("Old badge, blocked: go to the cashier."),
    BadgeStatus.DISABLED: N_("Badge blocked: go to the cashier."),
}
_ENJOY = Message(N_("Enjoy your meal!"))  # built once: a served tap allocates as little as it can


def special_meal(diet: str, reservation: ReservationKind | None) -> str | None:
    """The special meal a pupil gets (its diet, "" when reserved without one), or None for a
    normal meal: the counter's banner and the kitchen's count follow the same rule."""
    return diet if diet or reservation is ReservationKind.SPECIAL else None


def fault_verdict(message: Message, day: date) -> Verdict:
    """The red screen of a tap the kiosk could not decide, with what went wrong."""
    return Verdict(False, Refusal.KIOSK_FAULT, message, day)


def decide_meal(facts: CounterFacts | None, *, settings: Settings, now: datetime) -> Verdict:
    """Decide one tap; `facts` is None when the badge is unknown to this kiosk."""
    wall = local(now)
    day = wall.date()  # the service date: the Zurich calendar day
    pupil = facts.pupil if facts else None

    def refuse(reason: Refusal, template: str, meal_cents: int | None = None, **params: str) -> Verdict:
        balance = facts.balance_cents if facts else None
        return Verdict(False, reason, Message(template, params), day, pupil, meal_cents, balance)

    if facts is None:
        return refuse(Refusal.UNKNOWN_BADGE, N_("Unknown badge: go to the cashier."))
    if facts.badge_status is not BadgeStatus.ACTIVE:
        return refuse(Refusal.BADGE_DISABLED, _BLOCKED[facts.badge_status])
    if not pupil.active:
        return refuse(Refusal.PUPIL_INACTIVE, N_("Not enrolled at the refectory: go to the cashier."))
    if facts.hold is HoldReason.REFUND:
        return refuse(Refusal.ACCOUNT_ON_HOLD, N_("Account closed for a refund: go to the cashier."))
    if facts.hold is not None:
        return replace(refuse(Refusal.ACCOUNT_ON_HOLD, N_("Account blocked: go to the manager.")),
                       hold_note=facts.hold_note)

    if wall.weekday() not in settings.service_weekdays:
        return refuse(Refusal.OUTSIDE_SERVICE_HOURS, N_("No meals today."))
    if not settings.service_start <= wall.time() < settings.service_end:  # time(): naive wall-clock time
        return refuse(
            Refusal.OUTSIDE_SERVICE_HOURS,
            N_("Meals are served from {start} to {end}."),
            start=settings.service_start.strftime("%H:%M"),
            end=settings.service_end.strftime("%H:%M"),
        )
    if len(facts.served_today) >= settings.meals_per_day:
        return refuse(
            Refusal.ALREADY_SERVED,
            N_("You already had your meal today at {time}."),
            time=local(max(facts.served_today)).strftime("%H:%M"),
        )
    reservation = facts.reservation
    if reservation is None and settings.reservation_required:
        return refuse(
            Refusal.RESERVATION_REQUIRED,
            N_("No reservation for today: go to the cashier."),
        )
    price = settings.prices_cents.get(pupil.category)
    if price is None:
        return refuse(
            Refusal.NO_PRICE,
            N_("No meal price for category '{category}'. Please see the manager."),
            category=pupil.category,
        )
    if price <= 0:  # stored before prices had to be above zero: no meal is served for nothing
        return refuse(
            Refusal.NO_PRICE,
            N_("The meal price for category '{category}' is zero, which is not allowed. Please see the manager."),
            category=pupil.category,
        )
    if facts.balance_cents < price:
        return refuse(
            Refusal.INSUFFICIENT_BALANCE,
            N_("Not enough money: go to the cashier."),
            price,
        )

    after = facts.balance_cents - price
    return Verdict(  # positionally, in field order: keywords cost twice as much, at every tap
        True,  # served
        None,  # reason
        _ENJOY,
        day,  # service_date
        pupil,
        price,  # price_cents
        after,  # balance_cents
        special_meal(pupil.diet, reservation),
        after < settings.low_balance_cents,  # low_balance
        reservation is None,  # without_reservation
    )
