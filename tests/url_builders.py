"""Werkzeug compiles two URL builders for every rule of every app it binds (an AST, then
`compile`): about a tenth of a second per `create_app`, and the server tests make one app each.
The builder is a pure function of the rule's text, its parsed parts and its defaults (the rule
itself comes in as its first argument), so one test process compiles each rule once."""

from __future__ import annotations

from werkzeug.routing.rules import Rule

_compile = Rule._compile_builder
_builders: dict[tuple, object] = {}


def _compile_once(rule: Rule, append_unknown: bool = True):
    key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
    builder = _builders.get(key)
    if builder is None:
        builder = _builders[key] = _compile(rule, append_unknown)
    return builder


def compile_each_rule_once() -> None:
    Rule._compile_builder = _compile_once
