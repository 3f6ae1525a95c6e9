"""What a family has and does: logins and accounts, reservations, menus, documents,
low-balance alerts, and the letters the canteen writes to them."""
