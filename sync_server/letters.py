"""The letter a family receives with its portal login (printed by the CLI for now)."""

from __future__ import annotations

from collections.abc import Callable

from .families import Letter


def login_letter(letter: Letter, config, _: Callable[[str], str]) -> str:
    contact = " · ".join(part for part in (config["CANTEEN_PHONE"], config["CANTEEN_EMAIL"]) if part)
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
