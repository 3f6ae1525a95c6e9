"""The reservation agenda: a child's week as a grid, Monday to Friday, each day with its dish, its
reservation and only the changes still open, with their deadlines in words; a week (or chosen
weekdays) booked or cancelled in one action; the child's standing order.

A day's click is a plain form post answered by a redirect to the week; with scripts on, `portal.js`
sends it with `X-Requested-With: fetch` and swaps in the one day the answer holds, so the parent
stays where they were on the page. A week's action and the standing order answer with the week
and what was booked, and what was skipped and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from domain.agenda import (
    MAX_DAYS_AHEAD,
    AgendaDay,
    DeadlinePassedError,
    ReservationRuleError,
    changeable,
    day_in_words,
    week_of,
)
from domain.clock import local, service_date
from domain.meals import ReservationKind
from domain.messages import RefectoryError
from sync_server.admin.canteen_settings import current_settings
from sync_server.families import reservations, standing_orders
from sync_server.families.letters import contact_line
from sync_server.families.menus import Dish, menus_of
from sync_server.portal import bp, current_language, formatted_day, page_translations
from sync_server.portal.forms import ConfirmForm, ReservationForm, StandingOrderForm, WeekForm
from sync_server.portal.pages import child_or_404, week_asked
from sync_server.web.request_services import (
    day_asked,
    day_words,
    error_text,
    mail_details,
    now,
    request_reading,
    request_writing,
)

CHOICES = ("normal", "special", "none")


@dataclass(frozen=True, slots=True)
class DayView:
    """A day of the grid as the family sees it now."""

    entry: AgendaDay
    dishes: list[Dish]
    choices: list[str]  # the changes still open: "normal", "special", "none" (cancel)
    normal_until: str | None  # the deadline in words, while it is ahead
    special_until: str | None
    standing: bool  # one of the standing order's days
    past: bool
    not_open: bool  # further ahead than reservations open


@cache
def _words(language: str) -> dict[str, str]:
    """The words repeated on each day, translated once per language."""
    _ = page_translations(language).gettext
    return {"special": _("Special meal reserved"), "normal": _("Normal meal reserved"), "none": _("No reservation"),
            "book_normal": _("Reserve a normal meal"), "book_special": _("Reserve a special meal"),
            "cancel": _("Cancel the reservation"), "no_service": _("No meal service"),
            "until_normal": _("Normal meal: until {deadline}."), "until_special": _("Special meal: until {deadline}."),
            "locked": _("Can no longer be changed here: the deadline has passed."),
            "no_menu": _("Menu not published yet"), "standing": _("Standing order"),
            "closed": _("Closed: {reason}"),
            "not_open": _("Reservations open at most {days} days ahead.").format(days=MAX_DAYS_AHEAD)}


@lru_cache(maxsize=1024)
def deadline_words(moment: datetime, today: date, language: str) -> str:
    """"Monday 08:15" within the coming week, "Thursday 3 December 08:15" further: what a parent
    reads at a glance, never an ISO date. Kept: every family's agenda shows the same few deadlines."""
    wall = local(moment)
    if 0 <= (wall.date() - today).days < 7:
        return f"{formatted_day(wall.date(), 'EEEE', language)} {wall:%H:%M}"
    return f"{day_in_words(wall.date()).render(page_translations(language).gettext)} {wall:%H:%M}"


def _views(week: list[AgendaDay], menus: dict[date, list[Dish]], order, moment: datetime) -> list[DayView]:
    today, language = service_date(moment), current_language()
    views = []
    for entry in week:
        choices = [choice for choice in CHOICES
                   if changeable(entry, None if choice == "none" else ReservationKind(choice), moment)]
        normal_open = entry.served and moment <= entry.normal_deadline and entry.reservation != ReservationKind.SPECIAL
        special_open = entry.served and moment <= entry.special_deadline
        views.append(DayView(entry, menus.get(entry.day, []), choices,
                             deadline_words(entry.normal_deadline, today, language) if normal_open else None,
                             deadline_words(entry.special_deadline, today, language) if special_open else None,
                             bool(order and entry.served and entry.day >= today and order.covers(entry.day)),
                             entry.day < today, (entry.day - today).days > MAX_DAYS_AHEAD))
    return views


def _render(pupil_id: str, day: date, problem: str | None = None, status: int = 200):
    """The week of `day`, or only `day` itself when the click came from `portal.js`."""
    moment = now()
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        week = reservations.week(conn, pupil_id, day, settings)
        menus = menus_of(conn, [entry.day for entry in week])
        order = standing_orders.of_child(conn, pupil_id)
        term = reservations.end_of_term(conn, service_date(moment), settings) if not _in_place() else None
    views = _views(week, menus, order, moment)
    if _in_place():
        view = next((view for view in views if view.entry.day == day), None)
        if view is None:  # a weekend day: never on the page, so never clicked there
            abort(400, problem)
        return _day_only(view, problem=problem), status
    return render_template("portal/agenda.html", child=child, days=[view.entry.day for view in views], views=views,
                           settings=settings, problem=problem, t=_words(current_language()),
                           today=service_date(moment), order=order, term=term,
                           standing_words=order.weekdays_words.render(_) if order else None,
                           skip_words=error_text(order.last_skip[1]) if order and order.last_skip else None), status


def _day_only(view: DayView, notice: str | None = None, problem: str | None = None) -> str:
    return render_template("portal/agenda_day_only.html", view=view, t=_words(current_language()), notice=notice,
                           problem=problem)


def _in_place() -> bool:
    return request.method == "POST" and request.headers.get("X-Requested-With") == "fetch"


def _with_contact(error: RefectoryError) -> str:
    """The refusal, and whom to call when only a passed deadline stands in the way (the canteen can
    still change the day; a closed day or one without service it cannot)."""
    contact = contact_line(current_app.config["CANTEEN_PHONE"], current_app.config["CANTEEN_EMAIL"])
    if not contact or not isinstance(error, DeadlinePassedError):
        return error_text(error)
    return error_text(error) + " " + _("To change it now, contact the canteen: {contact}.").format(contact=contact)


@bp.route("/children/<pupil_id>/agenda")
@login_required
def agenda(pupil_id: str):
    return _render(pupil_id, week_asked())


@bp.route("/children/<pupil_id>/agenda", methods=["POST"])
@login_required
def reserve(pupil_id: str):
    form = ReservationForm()
    if not form.validate_on_submit():
        abort(400, _("This reservation request is incomplete; reload the agenda and try again."))
    day = day_asked(form.day.data[:40])
    kind = None if form.choice.data == "none" else ReservationKind(form.choice.data)
    try:
        with request_writing() as conn:
            settings = current_settings(conn)
            child = child_or_404(conn, pupil_id, settings)
            done = reservations.change(conn, current_user.family, child, day, kind, now(), settings=settings,
                                       **mail_details())
            if _in_place():  # the day's dish and order, for the day sent back
                menus = menus_of(conn, [day])
                order = standing_orders.of_child(conn, pupil_id)
    except ReservationRuleError as error:
        return _render(pupil_id, day, _with_contact(error), 409)
    notice = None
    if done.before != done.after:
        notice = _("Reservation cancelled.") if kind is None else _("Reservation recorded.")
    if _in_place():
        return _day_only(_views([done.agenda_day], menus, order, now())[0], notice=notice)
    if notice:
        flash(notice)
    return redirect(url_for("portal.agenda", pupil_id=pupil_id, week=day.isoformat()))


@bp.route("/children/<pupil_id>/agenda/week", methods=["POST"])
@login_required
def reserve_week(pupil_id: str):
    """Book or cancel the chosen weekdays of one week in one action, confirmed by one e-mail."""
    form = WeekForm()
    if not form.validate_on_submit():
        abort(400, _refusal(form))
    monday = week_of(day_asked(form.week.data[:40]))[0]
    kind = None if form.action.data == "cancel" else ReservationKind(form.kind.data)
    days = [day for day in week_of(monday) if day.weekday() in form.weekdays.data]
    with request_writing() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        family = current_user.family
        done = reservations.change_days(conn, child, days, kind, now(),
                                        (family.email, family.language) if family.email else None,
                                        settings=settings, **mail_details())
    _flash_result(done)
    return redirect(url_for("portal.agenda", pupil_id=pupil_id, week=monday.isoformat()))


@bp.route("/children/<pupil_id>/standing-order", methods=["POST"])
@login_required
def standing_order(pupil_id: str):
    """Store the child's standing order and book its days up to next week at once."""
    form = StandingOrderForm()
    if not form.validate_on_submit():
        abort(400, _refusal(form))
    last_day = day_asked(form.until.data[:40])
    back = _back_to_week(pupil_id)
    try:
        with request_writing() as conn:
            settings = current_settings(conn)
            child = child_or_404(conn, pupil_id, settings)
            done = standing_orders.start(conn, current_user.family, child, set(form.weekdays.data),
                                         ReservationKind(form.kind.data), last_day, now(), settings=settings,
                                         **mail_details())
    except standing_orders.StandingOrderError as error:
        flash(error.render(_), "problem")
        return back
    flash(_("Standing order recorded."))
    _flash_result(done)
    return back


@bp.route("/children/<pupil_id>/standing-order/stop", methods=["POST"])
@login_required
def stop_standing_order(pupil_id: str):
    if not ConfirmForm().validate_on_submit():
        abort(400, _("This reservation request is incomplete; reload the agenda and try again."))
    back = _back_to_week(pupil_id)
    with request_writing() as conn:
        child_or_404(conn, pupil_id)
        stopped = standing_orders.stop(conn, pupil_id)
    if stopped:
        flash(_("Standing order stopped. The days it already booked stay booked; cancel them in the week if"
                " needed."))
    return back


def _refusal(form) -> str:
    """Why a several-day form is refused: the field a parent fills in, else a request the page did
    not send as it is (a hidden field missing or changed, an expired CSRF token)."""
    if set(form.errors) == {"weekdays"}:
        return _("Choose at least one day of the week, Monday to Friday.")
    if set(form.errors) == {"until"}:
        return _("Give the standing order's last day.")
    return _("This reservation request is incomplete; reload the agenda and try again.")


def _back_to_week(pupil_id: str):
    """To the week the form was sent from (its hidden `week`), else this week. Made before the
    form's change is written: a `week` that is not a date is a 400 with nothing changed."""
    week = request.form.get("week", "")[:40]
    return redirect(url_for("portal.agenda", pupil_id=pupil_id, **({"week": day_asked(week).isoformat()}
                                                                   if week else {})))


def _flash_result(done: reservations.DaysChange) -> None:
    """What a several-day action did: the days changed, those skipped with why, and those left
    booked with the other meal."""
    this_year = service_date(now()).year

    def said(day: date) -> str:  # with its year when not this one
        return day_words(day, year=day.year != this_year)

    if done.changed:
        listed = ", ".join(said(one.day) for one in done.changed)
        flash((_("Booked: {days}.") if done.kind else _("Cancelled: {days}.")).format(days=listed))
    elif not done.skipped and not done.kept:
        flash(_("Nothing to change: those days were already so."))
    if done.skipped:
        reasons = "; ".join(f"{said(day)} ({error_text(refused)})" for day, refused in done.skipped)
        flash(_("Not changed: {days}").format(days=reasons), "skipped")
    if done.kept:
        listed = ", ".join(said(day) for day in done.kept)
        kept = (_("Left with the special meal already booked: {days}. To change the meal, cancel the day first.")
                if done.kind == ReservationKind.NORMAL else
                _("Left with the normal meal already booked: {days}. To change the meal, cancel the day first."))
        flash(kept.format(days=listed), "skipped")
