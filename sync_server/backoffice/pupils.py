"""Pupils, families and badges in the back office: find a pupil by name, class or badge; a
pupil's page (edit, leave, move to another family, badges and their history); a family's page
(its e-mail, its login letter); login letters for a class; the roster import, previewed line by
line before anything is written.

Every change goes through the services the `refectory server pupil|badge` commands call
(`sync_server.admin.pupils`, `pupil_badges`, `roster_import`), with its audit entry in the same
transaction. A refused change shows each problem beside its field and writes nothing.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from domain.meals import BadgeStatus
from domain.messages import N_, RefectoryError
from domain.roster import RosterError, parse_csv
from sync_server.admin import audit, pupil_badges, pupils, roster_import, schools
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.errors import FieldErrors
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, bp, current_manager
from sync_server.families import login_letters
from sync_server.web.request_services import now, request_reading, request_writing

KINDS = {"added": N_("added"), "changed": N_("changed"), "unchanged": N_("unchanged"),
         "deactivated": N_("deactivated")}


def _act(action: str, subject: str, act, detail=lambda done: ""):
    """`act(conn)` in one transaction with its audit entry; returns what it returned."""
    with request_writing() as conn:
        done = act(conn)
        audit.record(conn, current_manager().manager_id, action, subject, now(), detail(done))
    current_app.logger.info("manager %s: %s %s", current_manager().manager_id, action, subject)
    return done


def _problems(error: FieldErrors) -> dict[str, str]:
    return {field: problem.render(_) for field, problem in error.problems.items()}


def _details(form) -> pupils.Details:
    return pupils.Details(form.get("first_name", ""), form.get("last_name", ""), form.get("class_name", ""),
                          form.get("category", ""), form.get("diet", ""), form.get("active", "yes") == "yes",
                          form.get("school", ""))


def _choices() -> dict:
    with request_reading() as conn:
        known = schools.known_schools(conn)
        return {"classes": pupils.known_classes(conn), "categories": sorted(current_settings(conn).categories),
                "schools": known, "uses_schools": bool(known)}


@bp.route("/pupils", endpoint="pupils")
@allowed(MANAGER)
def search_page():
    query = request.args.get("q", "").strip()[:200]
    with request_reading() as conn:
        found = pupils.search(conn, query) if query else None
    return render_template("backoffice/pupils.html", query=query, found=found, limit=pupils.SEARCH_LIMIT,
                           **_choices())


@bp.route("/pupils/new", methods=["GET", "POST"])
@allowed(MANAGER)
def pupil_new():
    if request.method == "GET":
        return render_template("backoffice/pupil_new.html", values={}, problems={}, **_choices())
    form = request.form
    pupil_id = form.get("pupil_id", "").strip()
    try:
        _act("pupil.add", pupil_id, lambda conn: pupils.add_pupil(
            conn, pupil_id, _details(form), form.get("family_id"), now(), new_class="new_class" in form,
            new_school="new_school" in form, new_family="new_family" in form),
            lambda record: f"{record['first_name']} {record['last_name']}")
    except FieldErrors as error:
        return render_template("backoffice/pupil_new.html", values=form, problems=_problems(error),
                               **_choices()), 422
    flash(_("Pupil added. The kiosks learn it at their next sync."))
    return redirect(url_for("backoffice.pupil", pupil_id=pupil_id))


def _pupil_page(pupil_id: str, *, problems: dict | None = None, values: dict | None = None, form: str = "",
                status: int = 200):
    """The pupil's page; after a refused change, `form` names the form whose `values` and `problems` it shows."""
    with request_reading() as conn:
        found = pupils.pupil_file(conn, pupil_id)
    if found is None:
        abort(404)
    return render_template("backoffice/pupil.html", file=found, pupil=found.pupil, problems=problems or {},
                           values=values or {}, form=form, Status=BadgeStatus,
                           status_names=pupil_badges.STATUS_NAMES,
                           meals_page="backoffice.pupil_meals" in current_app.view_functions, **_choices()), status


@bp.route("/pupils/<pupil_id>")
@allowed(MANAGER)
def pupil(pupil_id: str):
    return _pupil_page(pupil_id)


def _pupil_step(pupil_id: str, form_name: str, action: str, act, done, detail=lambda done: ""):
    """`done` is what the manager reads once it is written, or says it from what `act` returned."""
    try:
        result = _act(action, pupil_id, act, detail)
    except FieldErrors as error:
        return _pupil_page(pupil_id, problems=_problems(error), values=request.form, form=form_name, status=422)
    flash(done(result) if callable(done) else done)
    return redirect(url_for("backoffice.pupil", pupil_id=pupil_id))


@bp.route("/pupils/<pupil_id>/edit", methods=["POST"])
@allowed(MANAGER)
def pupil_edit(pupil_id: str):
    details = _details(request.form)

    def edit(conn) -> tuple[dict, str | None, str | None]:
        """The record the kiosks hold, and the schools before and after."""
        left = pupils.existing(conn, pupil_id).school
        record = pupils.edit_pupil(conn, pupil_id, details, now(), new_class="new_class" in request.form,
                                   new_school="new_school" in request.form)
        return record, left, pupils.existing(conn, pupil_id).school

    return _pupil_step(pupil_id, "edit", "pupil.edit", edit, lambda done: _saved(*done[1:]),
                       lambda done: f"{done[0]['first_name']} {done[0]['last_name']}, {done[0]['class_name']},"
                                    f" {done[0]['category']}, active={done[0]['active']}, school={done[2] or '-'}")


def _saved(left: str | None, joined: str | None) -> str:
    """What the kiosks do about the saved pupil; a change of school, said in full."""
    if left == joined:
        return _("Saved. The kiosks learn it at their next sync.")
    if joined is None:
        return _("Saved: the child now belongs to every school; every kiosk gets the whole account (badges,"
                 " reservations, balance) at its next sync.")
    gone = (_("The kiosks of school {school} refuse the child from their next sync.").format(school=left) if left
            else _("The kiosks of the other schools refuse the child from their next sync."))
    return " ".join((_("Saved: the child changes school."), gone,
                     _("Those of school {school} get the whole account (badges, reservations, balance).")
                     .format(school=joined)))


@bp.route("/pupils/<pupil_id>/leave", methods=["POST"])
@allowed(MANAGER)
def pupil_leave(pupil_id: str):
    return _pupil_step(pupil_id, "leave", "pupil.deactivate", lambda conn: pupils.deactivate(conn, pupil_id, now()),
                       _("The child has left the refectory: the kiosks refuse the badge from their next sync."))


@bp.route("/pupils/<pupil_id>/move", methods=["POST"])
@allowed(MANAGER)
def pupil_move(pupil_id: str):
    family_id = request.form.get("family_id", "")
    return _pupil_step(pupil_id, "move", "pupil.move",
                       lambda conn: pupils.move(conn, pupil_id, family_id, now(),
                                                new_family="new_family" in request.form),
                       _("The child now belongs to family {family_id}.").format(family_id=family_id.strip()),
                       lambda record: f"to {record['family_id']}")


@bp.route("/pupils/<pupil_id>/badges", methods=["POST"])
@allowed(MANAGER)
def badge_assign(pupil_id: str):
    return _pupil_step(pupil_id, "assign", "badge.assign",
                       lambda conn: pupil_badges.assign(conn, pupil_id, request.form.get("uid", ""), now()),
                       _("Badge assigned. The kiosks learn it at their next sync."), lambda uid: uid)


def _owned_badge(pupil_id: str, uid: str) -> None:
    with request_reading() as conn:
        found = pupil_badges.badge(conn, uid)
    if found is None or found.pupil_id != pupil_id:
        abort(404)


@bp.route("/pupils/<pupil_id>/badges/<uid>/lost", methods=["POST"])
@allowed(MANAGER)
def badge_lost(pupil_id: str, uid: str):
    _owned_badge(pupil_id, uid)
    reason = request.form.get("reason", "")
    return _pupil_step(pupil_id, f"lost-{uid}", "badge.lost",
                       lambda conn: pupil_badges.mark_lost(conn, uid, reason, now()),
                       _("Badge {uid} is marked lost: every kiosk refuses it from its next sync.").format(uid=uid),
                       lambda lost: f"{lost.uid}: {reason.strip()}")


@bp.route("/pupils/<pupil_id>/badges/<uid>/replace", methods=["POST"])
@allowed(MANAGER)
def badge_replace(pupil_id: str, uid: str):
    _owned_badge(pupil_id, uid)
    reason = request.form.get("reason", "")
    return _pupil_step(pupil_id, f"replace-{uid}", "badge.replace",
                       lambda conn: pupil_badges.replace(conn, uid, request.form.get("new_uid", ""), now(), reason),
                       _("New badge assigned; the old one is blocked from the kiosks' next sync."),
                       lambda new: f"{uid} by {new.uid}" + (f": {reason.strip()}" if reason.strip() else ""))


@bp.route("/families/<family_id>")
@allowed(MANAGER)
def family(family_id: str):
    return _family_page(family_id)


def _family_page(family_id: str, problems: dict | None = None, values: dict | None = None, status: int = 200):
    with request_reading() as conn:
        found = pupils.family(conn, family_id)
    if found is None:
        abort(404)
    return render_template("backoffice/family.html", family=found, problems=problems or {},
                           values=values or {}), status


@bp.route("/families/<family_id>/email", methods=["POST"])
@allowed(MANAGER)
def family_email(family_id: str):
    email = request.form.get("email", "")
    try:
        _act("family.email", family_id, lambda conn: pupils.set_family_email(conn, family_id, email),
             lambda saved: saved or "none")
    except FieldErrors as error:
        return _family_page(family_id, _problems(error), request.form, 422)
    flash(_("E-mail address saved."))
    return redirect(url_for("backoffice.family", family_id=family_id))


def _pdf(document: bytes, name: str) -> Response:
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={name}.pdf", "Cache-Control": "no-store"})


@bp.route("/families/<family_id>/letter", methods=["POST"])
@allowed(MANAGER)
def family_letter(family_id: str):
    """The family's letter: its first login, or a new password (a reset: its sessions end)."""
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            letter = login_letters.family_letter(conn, family_id, now(), manager_id)
    except FieldErrors:
        abort(404)
    current_app.logger.info("manager %s: login letter for family %s", manager_id, family_id)
    return _pdf(login_letters.letters_pdf([letter], current_app.config, _), f"login-{family_id}")


@bp.route("/pupils/letters", methods=["POST"])
@allowed(MANAGER)
def class_letters():
    """First login letters for a class's families that have none, one PDF."""
    class_name = request.form.get("class_name", "").strip()
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            letters = login_letters.class_letters(conn, class_name, now(), manager_id)
    except FieldErrors as error:
        flash(error.problems["class_name"].render(_), "problem")
        return redirect(url_for("backoffice.pupils"))
    current_app.logger.info("manager %s: %d login letters for class %s", manager_id, len(letters), class_name)
    return _pdf(login_letters.letters_pdf(letters, current_app.config, _), f"logins-{class_name}")


@bp.route("/pupils/import", methods=["GET", "POST"])
@allowed(MANAGER)
def roster_upload():
    """Upload the roster: the preview of what it changes, or its errors line by line. Writes nothing."""
    if request.method == "GET":
        return render_template("backoffice/roster.html")
    upload = request.files.get("roster")
    if upload is None or not upload.filename:
        return render_template("backoffice/roster.html", problem=_("Choose the roster file (CSV).")), 422
    data = upload.read()
    deactivate = "deactivate_missing" in request.form
    try:
        with request_reading() as conn:
            plan = roster_import.plan_import(conn, *parse_csv(data), deactivate_missing=deactivate)
    except RosterError as error:
        return render_template("backoffice/roster.html", problem=error.render(_),
                               errors=[(e.line, e.message.render(_)) for e in error.errors],
                               filename=upload.filename), 422
    return render_template("backoffice/roster_preview.html", plan=plan, kinds=KINDS, filename=upload.filename,
                           content=base64.b64encode(data).decode(), deactivate=deactivate)


@bp.route("/pupils/import/confirm", methods=["POST"])
@allowed(MANAGER)
def roster_confirm():
    """Write the previewed plan, only if the file and the pupils still give that very plan."""
    filename = request.form.get("filename", "")[:200]
    try:
        data = base64.b64decode(request.form.get("content", ""), validate=True)
        with request_writing() as conn:
            plan = roster_import.plan_import(conn, *parse_csv(data),
                                             deactivate_missing=request.form.get("deactivate") == "yes")
            if plan.fingerprint != request.form.get("fingerprint"):
                raise _Changed(N_("The file or the pupils changed since the preview: nothing was written."
                                  " Preview the file again."))
            summary = roster_import.apply_plan(conn, plan, now())
            audit.record(conn, current_manager().manager_id, "pupils.import", filename or "?", now(),
                         f"{summary.created} added, {summary.updated} updated, {summary.badges} badges,"
                         f" {summary.deactivated} deactivated")
    except (binascii.Error, RefectoryError) as error:
        problem = error.render(_) if isinstance(error, RefectoryError) else _("The file was not sent whole.")
        return render_template("backoffice/roster.html", problem=problem), 409
    flash(_("Roster imported: {counts}.").format(counts=_counts(plan)))
    return redirect(url_for("backoffice.pupils"))


def _counts(plan: roster_import.RosterPlan) -> str:
    """"1 pupil added, 2 changed, 0 deactivated, 40 unchanged", as the preview counted them."""
    words = {"added": ("{count} pupil added", "{count} pupils added"), "changed": ("{count} changed",) * 2,
             "deactivated": ("{count} deactivated",) * 2, "unchanged": ("{count} unchanged",) * 2}
    return ", ".join(ngettext(*words[kind], plan.count(kind)).format(count=plan.count(kind)) for kind in words)


class _Changed(RefectoryError):
    code = "preview_outdated"

