"""Plumbing every page and API route shares: how URLs name rows, the development server and
gunicorn's settings, what a request takes from the app (database, clock, its read and write
transactions), CSRF and login throttling, and the login flow."""

from __future__ import annotations

from flask import Flask

from sync_server.web import protection, request_services


def init_app(app: Flask) -> None:
    """What the portal, the back office and the kiosk API share, set up once for the app."""
    request_services.init_app(app)
    protection.init_app(app)
