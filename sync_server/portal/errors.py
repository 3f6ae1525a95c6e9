"""Error pages for people: what went wrong in words, in the portal's language."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

TITLES = {
    400: lambda: _("This request is not valid"),
    403: lambda: _("Not allowed"),
    404: lambda: _("Page not found"),
    405: lambda: _("Not allowed"),
    409: lambda: _("This cannot be done"),
    413: lambda: _("Too large"),
    429: lambda: _("Too many attempts"),
    503: lambda: _("The server is busy"),
}


def error_page(error: HTTPException):
    status = error.code or 500
    title = TITLES.get(status, lambda: _("Something went wrong"))()
    if status == 429:
        message = _("Too many wrong logins. Wait a few minutes, then try again.")
    elif status == 503:
        message = _("Many people are using the service right now. Try again in a moment.")
    elif status == 404:
        message = _("This page does not exist, or it is not yours to see.")
    elif status in (400, 409) and not isinstance(error, CSRFError) and error.description != type(error).description:
        message = error.description  # said by the view: what is wrong with this request
    elif status == 400:
        message = _("The form was sent incompletely or has expired: go back, reload the page and try again.")
    else:
        message = _("Go back to the home page and try again.")
    retry = [(name, value) for name, value in error.get_headers() if name == "Retry-After"]
    return render_template("portal/error.html", title=title, message=message), status, retry
