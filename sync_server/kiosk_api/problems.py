"""RFC 9457 problem details: every API error is one JSON object with a title a person can act on."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str | None = None, *, errors: list[str] | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers or {}

    def response(self):
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        response = jsonify(body)
        response.status_code = self.status
        response.mimetype = "application/problem+json"
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="refectory"'
        response.headers.update(self.headers)
        return response


def register(app: Flask, page: Callable[[HTTPException], object] | None = None) -> None:
    """Errors under /api/ answer as problems; elsewhere `page` renders them for people."""
    app.register_error_handler(Problem, lambda problem: problem.response())

    @app.errorhandler(HTTPException)
    def http_problem(error: HTTPException):
        """Routing and size errors under /api/ as problems too (413 for an oversized body), with the
        error's own headers (a 405 says which methods are allowed)."""
        if not request.path.startswith("/api/"):
            return error if page is None else page(error)
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return Problem(error.code or 500, error.name, error.description, headers=headers).response()
