"""The kiosk's touchscreen (Kivy): a skin over the kiosk core.

No money rule lives here: taps go to `kiosk.counter.Counter`, cashier operations to
`kiosk.cashier_desk.CashierDesk`, both off the UI thread; their results come back through the
Kivy Clock. See docs/kiosk-ui.md.
"""
