"""Refectory: prepaid school refectory (kiosk, sync server, parents' portal)."""

__version__ = "0.1.0"
