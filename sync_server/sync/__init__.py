"""What the kiosks and the server share: the ledger (a kiosk's push booked, held or refused), the
change feed the kiosks pull, and the kiosks themselves (enrollment, tokens, health)."""
