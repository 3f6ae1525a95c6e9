"""Translatable messages: a template (English gettext msgid) plus named parameters.

The domain never picks a language. It returns `Message` values; the kiosk, the CLI and the
portal render them with the catalogue of their user's language (French by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def N_(template: str) -> str:  # noqa: N802 - gettext's conventional marker name, known to Babel
    """Mark a string for extraction by Babel without translating it here."""
    return template


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Message:
    """A template and its parameters; a parameter may itself be a Message (rendered alike)."""

    template: str
    params: Mapping[str, str | Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def render(self, gettext: Callable[[str], str] = _identity) -> str:
        values = {k: v.render(gettext) if isinstance(v, Message) else v for k, v in self.params.items()}
        return gettext(self.template).format(**values)

    def __str__(self) -> str:
        return self.render()


class RefectoryError(Exception):
    """An error a person can act on: carries a translatable message and a stable code."""

    code = "error"

    def __init__(self, template: str, **params: object) -> None:
        self.message = Message(template, {k: v if isinstance(v, Message) else str(v) for k, v in params.items()})
        super().__init__(str(self.message))

    def render(self, gettext: Callable[[str], str] = _identity) -> str:
        return self.message.render(gettext)
