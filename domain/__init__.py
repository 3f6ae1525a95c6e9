"""Domain rules shared by kiosk and server: money, ledger entries, meal decisions, settings.

Pure code: no I/O, no framework import (a test enforces it), so every rule can be read in one
sitting and tested in microseconds.
"""
