"""The low-balance alert of a child: the family chooses the threshold, or keeps the canteen's, or
switches it off (0). The e-mail itself goes from `sync_server.balance_alerts` when a kiosk's push
brings the fall."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from domain.money import AmountError, format_chf
from sync_server.admin.canteen_settings import current_settings
from sync_server.families import balance_alerts
from sync_server.portal import bp
from sync_server.portal.forms import AlertForm
from sync_server.portal.pages import child_or_404
from sync_server.web.request_services import now, request_reading, request_writing


def _page(pupil_id: str, form: AlertForm, status: int = 200):
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        own = balance_alerts.own_threshold(conn, pupil_id)
    if not form.is_submitted():
        form.threshold.data = "" if own is None else format_chf(own, currency=False)
    return render_template("portal/alert.html", child=child, form=form, own=own,
                           canteens=settings.low_balance_cents, email=current_user.family.email), status


@bp.route("/children/<pupil_id>/alert")
@login_required
def alert(pupil_id: str):
    return _page(pupil_id, AlertForm())


@bp.route("/children/<pupil_id>/alert", methods=["POST"])
@login_required
def set_alert(pupil_id: str):
    form = AlertForm()
    if not form.validate_on_submit():
        abort(400, _("This form is incomplete; reload the page and try again."))
    try:
        with request_writing() as conn:
            child = child_or_404(conn, pupil_id)
            threshold = balance_alerts.set_threshold(conn, pupil_id, form.threshold.data or "", now())
    except AmountError as error:
        form.threshold.errors = [error.render(_)]
        return _page(pupil_id, form, 422)
    if threshold == 0:
        flash(_("No more low-balance e-mails for {name}.").format(name=child.first_name))
    else:
        flash(_("Low-balance alert for {name} saved.").format(name=child.first_name))
    return redirect(url_for("portal.home"))
