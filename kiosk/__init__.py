"""The kiosk core: local ledger store and counter services, with no UI toolkit.

The Kivy app, the CLI and the tests all drive the same `KioskService`.
"""
