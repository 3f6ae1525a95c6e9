"""The canteen's staff and setup: the canteen's settings, cashiers, the roster and menus imports,
managers' logins, the audit log, and the hashing of the secrets people choose."""
