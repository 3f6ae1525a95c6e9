"""Money in and out of the accounts: bank files and their import, QR-bills, online payments
through the provider, refunds and the fence that holds them, payment files, statements."""
