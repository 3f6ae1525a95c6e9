"""The canteen's staff: its configuration (settings, cashiers, roster, menus), managers' logins,
the audit log, and the hashing of the secrets people choose."""
