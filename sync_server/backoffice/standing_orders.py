"""The families' standing orders in the back office: every order with days still to come, by
school, with what it last booked and the last day it left out (and why); the manager cancels one
for a family that asked (or a child who left), through the same service as the family's own
button, and the family is told by e-mail. `refectory server standing-order list|cancel` is its
command-line twin."""

from __future__ import annotations

from itertools import groupby

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from domain.clock import service_date
from domain.messages import RefectoryError
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, at_most, bp, current_manager, form_problems
from sync_server.families import standing_orders
from sync_server.web.request_services import error_text, mail_details, now, request_reading, request_writing


class CancelForm(FlaskForm):
    reason = StringField(validators=[at_most(standing_orders.MAX_REASON)])


@bp.route("/standing-orders")
@allowed(MANAGER)
def standing_orders_page():
    today = service_date(now())
    with request_reading() as conn:
        listed = standing_orders.active(conn, today)
    schools = [(school, list(orders)) for school, orders in groupby(listed, key=lambda one: one.school)]
    return render_template("backoffice/standing_orders.html", schools=schools,
                           uses_schools=any(school for school, _orders in schools),
                           words=error_text, max_reason=standing_orders.MAX_REASON)


@bp.route("/standing-orders/<pupil_id>/cancel", methods=["POST"])
@allowed(MANAGER)
def cancel_standing_order(pupil_id: str):
    form = CancelForm()
    back = redirect(url_for("backoffice.standing_orders_page"))
    if not form.validate_on_submit():
        flash(form_problems(form) or _("This form is incomplete; reload the page and try again."), "problem")
        return back
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            order = standing_orders.cancel_for_family(conn, pupil_id[:64], now(), actor=manager_id,
                                                      reason=form.reason.data or "", **mail_details())
    except RefectoryError as error:
        flash(error_text(error), "problem")
        return back
    current_app.logger.info("manager %s: standing order of %s cancelled", manager_id, order.pupil_id)
    flash(_("Standing order cancelled; the family is told by e-mail. The days it already booked stay booked."))
    return back

