"""The portal's forms (Flask-WTF: each carries its CSRF token and says what is wrong in words); the login
form, shared with the back office, is `sync_server.web.login`'s."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, EqualTo

from domain.i18n import LANGUAGES


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    new = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password."))])
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("new", _l("The two new passwords differ."))])


class ReservationForm(FlaskForm):
    day = HiddenField(validators=[DataRequired()])
    choice = HiddenField(validators=[AnyOf(["normal", "special", "none"])])


class WeekdaysField(Field):
    """The ticked weekdays, Monday (0) to Friday (4): the page writes its own checkboxes."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if any(value not in {"0", "1", "2", "3", "4"} for value in valuelist):
            self.data = []
            raise ValueError(_l("Choose days from Monday to Friday."))
        self.data = sorted({int(value) for value in valuelist})


class WeekForm(FlaskForm):
    """Several weekdays of one week booked (`kind`) or cancelled in one action."""

    week = HiddenField(validators=[DataRequired()])
    weekdays = WeekdaysField(validators=[DataRequired()])
    kind = HiddenField(validators=[AnyOf(["normal", "special"])], default="normal")
    action = HiddenField(validators=[AnyOf(["book", "cancel"])])


class StandingOrderForm(FlaskForm):
    weekdays = WeekdaysField(validators=[DataRequired()])
    kind = HiddenField(validators=[AnyOf(["normal", "special"])], default="normal")
    until = StringField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (stopping a standing order, turning automatic top-up off)."""


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[AnyOf(list(LANGUAGES))])
    next = HiddenField()


class QrBillForm(FlaskForm):
    amount = StringField(_l("Amount in CHF (optional)"))  # checked by Settings.topup_from


class AlertForm(FlaskForm):
    threshold = StringField(_l("Alert below (CHF)"))  # checked by parse_amount
