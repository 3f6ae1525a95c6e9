"""The error of a manager's request the server refuses (a bad cashier, kiosk id or badge)."""

from __future__ import annotations

from domain.messages import RefectoryError


class AdminError(RefectoryError):
    code = "invalid_request"
