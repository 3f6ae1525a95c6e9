"""What the canteen writes to families on paper: the login letter (printed by the CLI, handed or
posted, not sent by the server: it holds the password), and the contact line it shares with the portal.
The e-mails are templates in `sync_server/mail/templates/`."""

from __future__ import annotations

from collections.abc import Callable

from sync_server.families.accounts import Letter


def canteen(config) -> dict:
    """The canteen's details from the app's configuration, as mails, PDFs and pages show them."""
    return {key: config[f"CANTEEN_{key.upper()}"] for key in ("name", "phone", "email", "address", "contact", "hours")}


def mail_details(config) -> dict:
    """What a mail says of the canteen and where the portal is, from the app's configuration: the
    `canteen` and `portal_url` that every function sending mail to families takes."""
    return {"canteen": canteen(config), "portal_url": config["PORTAL_URL"]}


def contact_line(phone: str | None, email: str | None) -> str:
    return " · ".join(part for part in (phone, email) if part)


def login_letter(letter: Letter, config, _: Callable[[str], str]) -> str:
    contact = contact_line(config["CANTEEN_PHONE"], config["CANTEEN_EMAIL"])
    lines = [
        config["CANTEEN_NAME"],
        *([config["CANTEEN_ADDRESS"]] if config["CANTEEN_ADDRESS"] else []),
        "",
        _("Your family portal"),
        "",
        _("Address: {url}").format(url=config["PORTAL_URL"]),
        _("Login: {login}").format(login=letter.login),
        _("Password: {password}").format(password=letter.password),
        "",
        _("Mind upper and lower case. Please change the password after your first login."),
    ]
    if contact:
        lines += ["", _("Questions: {contact}").format(contact=contact)]
    return "\n".join(lines)
