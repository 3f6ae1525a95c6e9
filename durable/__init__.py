"""Durable file operations the kiosk and the server share (`files`)."""
