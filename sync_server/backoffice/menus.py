"""Menus in the back office (manager and kitchen): a week's dishes, a week's CSV imported by the
same service as `refectory server import-menus` (same rules, same line-numbered errors, nothing
written when one line is wrong), or one day's dishes, allergens and labels edited in place."""

from __future__ import annotations

import os
from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from domain.agenda import week_of
from domain.clock import TimeInputError, parse_day, service_date
from domain.menus import ALLERGENS, LABELS
from domain.roster import RosterError
from sync_server.admin import audit, menu_import
from sync_server.admin.managers import KITCHEN, MANAGER
from sync_server.backoffice import allowed, bp, current_manager, uploaded_form
from sync_server.families.menus import menus_of
from sync_server.web.protection import csrf
from sync_server.web.request_services import now, request_reading, request_writing

UPLOAD_MAX_BYTES = 32 * 1024 * 1024  # read up to this, so that a wrong, large file is refused in words
BLANK_LINES = 3  # empty lines under a day's dishes, to add some


class MenuFileForm(FlaskForm):
    menu_file = FileField(_l("Menu file (CSV: date,course,dish,allergens,labels)"),
                          validators=[FileRequired(_l("Choose the menu file."))])


def _week() -> list[date]:
    try:
        return week_of(parse_day(request.args.get("week", "")[:40]))
    except TimeInputError:
        return week_of(service_date(now()))


def _week_page(form: MenuFileForm, *, problem: str | None = None, errors=(), status: int = 200):
    days = _week()
    with request_reading() as conn:
        found = menus_of(conn, days)
    return render_template("backoffice/menus.html", form=form, days=days, menus=found, problem=problem,
                           errors=errors, allergen_names={code: _(name) for code, name in ALLERGENS.items()},
                           label_names={label: _(name) for label, name in LABELS.items()}), status


@bp.route("/menus", methods=["GET", "POST"])
@csrf.exempt  # see uploaded_form
@allowed(MANAGER, KITCHEN)
def menus():
    form, sent = uploaded_form(MenuFileForm, UPLOAD_MAX_BYTES)
    if not sent:
        return _week_page(form, status=422 if form.errors else 200)
    upload = form.menu_file.data
    manager_id = current_manager().manager_id
    try:
        menu_import.check_size(upload.stream.seek(0, os.SEEK_END))
        upload.stream.seek(0)
        header, rows = menu_import.read_menu_file(upload.read())
        with request_writing() as conn:
            days = menu_import.import_menus(conn, header, rows, now())
            audit.record(conn, manager_id, "menus.import", upload.filename or "?", now(), f"{days} days")
    except RosterError as error:
        return _week_page(form, problem=error.render(_), errors=[
            (e.line, e.message.render(_)) for e in error.errors], status=422)
    current_app.logger.info("%s imported menus from %s: %d days", manager_id, upload.filename, days)
    flash(ngettext("Menus of {count} day imported: the kiosks show them after their next sync.",
                   "Menus of {count} days imported: the kiosks show them after their next sync.", days)
          .format(count=days))
    return redirect(url_for("backoffice.menus", week=request.args.get("week")))


@bp.route("/menus/<day>", methods=["GET", "POST"])
@allowed(MANAGER, KITCHEN)
def menu_day(day: str):
    try:
        service_day = parse_day(day)
    except TimeInputError:
        abort(404)
    problems: dict[int, str] = {}
    if request.method == "POST":
        form = request.form
        lines = [{field: value for field, value in zip(menu_import.ITEM_FIELDS, values, strict=True)}
                 for values in zip(*(form.getlist(field) for field in menu_import.ITEM_FIELDS), strict=False)]
        try:
            with request_writing() as conn:
                count = menu_import.edit_day(conn, service_day, lines, now())
                audit.record(conn, current_manager().manager_id, "menus.edit", service_day.isoformat(), now(),
                             f"{count} dishes")
        except RosterError as error:
            problems = {e.line: e.message.render(_) for e in error.errors}
        else:
            flash(_("Menu of {day} saved: the kiosks show it after their next sync.").format(
                day=service_day.strftime("%d.%m.%Y")))
            return redirect(url_for("backoffice.menus", week=service_day.isoformat()))
    else:
        with request_reading() as conn:
            lines = [*menu_import.day_items(conn, service_day), *({} for _blank in range(BLANK_LINES))]
    return render_template("backoffice/menu_day.html", day=service_day, lines=lines, problems=problems,
                           allergen_codes=", ".join(ALLERGENS)), 422 if problems else 200
