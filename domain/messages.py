"""Translatable messages: a template (English gettext msgid) plus named parameters.

The domain never picks a language. It returns `Message` values; the kiosk, the CLI and the
portal render them with the catalogue of their user's language (French by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType


def N_(template: str) -> str:  # noqa: N802 - gettext's conventional marker name, known to Babel
    """Mark a string for extraction by Babel without translating it here."""
    return template


def _identity(text: str) -> str:
    return text


def _is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _digits(day: date) -> str:
    return day.strftime("%d.%m.%Y")


@dataclass(frozen=True, slots=True)
class Message:
    """A template and its parameters; a parameter may itself be a Message (rendered alike), or a
    day, which the caller writes in its user's words (`day`; Swiss digits by default)."""

    template: str
    params: Mapping[str, str | date | Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def render(self, gettext: Callable[[str], str] = _identity, day: Callable[[date], str] | None = None) -> str:
        values = {k: v.render(gettext, day) if isinstance(v, Message)
                  else (day or _digits)(v) if _is_day(v) else v for k, v in self.params.items()}
        return gettext(self.template).format(**values)

    def __str__(self) -> str:
        return self.render()

    def as_data(self) -> dict:
        """The message as plain data (strings, lists, dicts) to store, and render later in the
        language of whoever reads it: a day as {"day": ISO}, a nested message as {"message": ...}."""
        return {"template": self.template, "params": {
            k: {"message": v.as_data()} if isinstance(v, Message) else {"day": v.isoformat()} if _is_day(v) else v
            for k, v in self.params.items()}}

    @classmethod
    def from_data(cls, data: Mapping) -> Message:
        """The message `as_data` stored."""
        def value(v):
            if isinstance(v, Mapping):
                return cls.from_data(v["message"]) if "message" in v else date.fromisoformat(v["day"])
            return v
        return cls(data["template"], {k: value(v) for k, v in data["params"].items()})


class RefectoryError(Exception):
    """An error a person can act on: carries a translatable message and a stable code."""

    code = "error"

    def __init__(self, template: str, **params: object) -> None:
        self.message = Message(template, {k: v if isinstance(v, Message) or _is_day(v) else str(v)
                                          for k, v in params.items()})
        super().__init__(str(self.message))

    def render(self, gettext: Callable[[str], str] = _identity, day: Callable[[date], str] | None = None) -> str:
        return self.message.render(gettext, day)
