"""The error of a manager's request the server refuses (a bad cashier, kiosk id or badge)."""

from __future__ import annotations

from collections.abc import Callable

from domain.messages import N_, Message, RefectoryError, _identity


class AdminError(RefectoryError):
    code = "invalid_request"


class FieldErrors(AdminError):
    """What is wrong with a manager's form or command, each problem under its field's name, so a
    page shows it beside the field and the command line names it. Nothing was written."""

    def __init__(self, problems: dict[str, Message]) -> None:
        super().__init__(N_("Nothing was saved: {problem}"), problem=next(iter(problems.values())))
        self.problems = problems

    def render(self, gettext: Callable[[str], str] = _identity) -> str:
        return " ".join(f"{field}: {problem.render(gettext)}" for field, problem in self.problems.items())
