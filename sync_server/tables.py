"""Server tables (SQLAlchemy Core): the same ledger as the kiosks, plus what only the server holds.

Instants are stored as fixed-width UTC text (`domain.clock.to_text`), as on the kiosk, so they sort
as text on SQLite and PostgreSQL alike. Every change a kiosk must learn about is also appended to
`changes`, whose `seq` is the pull cursor. Alembic migrations (`migrations/`) create these tables;
this module is what the code reads and writes through.
"""

from __future__ import annotations

from sqlalchemy import (
                        BigInteger,
                        Boolean,
                        CheckConstraint,
                        Column,
                        ForeignKey,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        Table,
                        Text,
)

metadata = MetaData()

families = Table(
    "families", metadata,
    Column("family_id", Text, primary_key=True),
    Column("email", Text),
    # The portal login, sent by letter; the password as an argon2 hash. Changing the password
    # moves `password_changed_at`, which ends the family's other sessions.
    Column("login", Text),
    Column("password_hash", Text),
    Column("password_changed_at", Text),
    Column("language", Text, nullable=False, server_default="fr"),  # of the family's e-mails
)
Index("families_login", families.c.login, unique=True)

pupils = Table(
    "pupils", metadata,
    Column("pupil_id", Text, primary_key=True),
    Column("family_id", Text, ForeignKey("families.family_id")),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("class_name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("diet", Text, nullable=False, server_default=""),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("school", Text),  # where the pupil eats: the kiosks of that school hear of them (NULL: every kiosk)
)

badges = Table(
    "badges", metadata,
    Column("uid", Text, primary_key=True),
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("since", Text, nullable=False),
)

badge_history = Table(
    "badge_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", Text, nullable=False),
    Column("pupil_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("reason", Text),  # the manager's words when a badge is marked lost or replaced
)
Index("badge_history_by_pupil", badge_history.c.pupil_id, badge_history.c.id)

settings = Table(
    "settings", metadata,
    Column("key", Text, primary_key=True),  # price.<category> keys are the categories and prices
    Column("value", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

cashiers = Table(
    "cashiers", metadata,
    Column("cashier_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("pin_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("badge_uid", Text),  # the cashier's own badge opens cashier mode
)

holds = Table(
    "holds", metadata,
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("reason", Text, nullable=False),  # refund or manager (domain.meals.HoldReason)
    Column("since", Text, nullable=False),
    Column("note", Text),  # a manager hold's reason (an exclusion), shown at the kiosk and on the portal
)

reservations = Table(
    "reservations", metadata,
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("service_date", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

Index("reservations_by_day", reservations.c.service_date, reservations.c.kind)

menus = Table(
    "menus", metadata,
    Column("service_date", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("course", Text, nullable=False),
    Column("dish", Text, nullable=False),
    Column("allergens", Text, nullable=False, server_default=""),
    Column("labels", Text, nullable=False, server_default=""),
)

kiosks = Table(
    "kiosks", metadata,
    Column("kiosk_id", Text, primary_key=True),
    Column("token_hash", Text, unique=True),
    Column("enrolled_at", Text),
    Column("revoked_at", Text),
    Column("last_heartbeat", Text),
    Column("cursor", BigInteger),
    Column("pending", Integer),
    Column("clock_skew_seconds", Integer),
    Column("version", Text),
    # The last error a kiosk reported in a heartbeat (its sync failed before), and when it failed.
    Column("last_error", Text),
    Column("last_error_at", Text),
    Column("last_error_code", Text),  # domain.sync.SyncErrorCode, shown translated; NULL from older kiosks
    Column("school", Text),  # the school whose changes the kiosk pulls (NULL: every change)
)

enrollment_codes = Table(
    "enrollment_codes", metadata,
    Column("code_hash", Text, primary_key=True),
    Column("kiosk_id", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Column("used_at", Text),
)

entries = Table(
    "entries", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("account_id", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("occurred_at", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("operator", Text),
    Column("reference", Text),
    Column("service_date", Text),
    Column("note", Text),
    Column("received_at", Text, nullable=False),
    CheckConstraint("amount_cents <> 0", name="entries_amount_not_zero"),
)
# An account's entries in order (history, statements); with the amount in it, `ledger.drifted`
# recomputes every balance from the index alone.
Index("entries_by_account", entries.c.account_id, entries.c.seq, entries.c.amount_cents)
# Each account's balance, the sum of its entries, kept by `ledger._insert` in the transaction that
# inserts them (the only way entries are written): a balance is one row read, not a sum over the
# account's entries. Accounts without entries have no row (balance 0).
account_balances = Table(
    "account_balances", metadata,
    Column("account_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("balance_cents", BigInteger, nullable=False),
    # The ledger's range check (domain.money.MAX_BALANCE_CENTS), kept by the database as a backstop.
    CheckConstraint("balance_cents BETWEEN -100000000000 AND 100000000000", name="account_balances_in_range"),
)
Index("cashiers_badge", cashiers.c.badge_uid, unique=True)
# The overview's figures of a day: meals (the only entries with a service date) by kiosk, read from
# the index alone.
_MEALS_ONLY = entries.c.service_date.is_not(None)
Index("entries_meals_by_day", entries.c.service_date, entries.c.origin,
      sqlite_where=_MEALS_ONLY, postgresql_where=_MEALS_ONLY)
# A day's entries of one kind (cash top-ups and their cancellations for the cash report, the
# reversals the overview subtracts) without reading the whole ledger.
Index("entries_by_kind_time", entries.c.kind, entries.c.occurred_at)
# An entry is reversed at most once (the push refuses a second reversal; this is the backstop).
_REVERSALS = entries.c.kind == "reversal"
Index("entries_reversed_once", entries.c.reference, unique=True, sqlite_where=_REVERSALS,
      postgresql_where=_REVERSALS)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, nullable=False),
    Column("record_id", Text),
    Column("record", Text, nullable=False),  # the record as received (JSON)
    Column("reason", Text, nullable=False),
    Column("received_at", Text, nullable=False),
    # A kiosk's reversal whose original has not arrived: that entry's id, until it does.
    Column("waiting_for", Text),
    Column("released_at", Text),  # when the held reversal was booked
)
Index("quarantine_waiting_for", quarantine.c.waiting_for)

# `seq` is the change's feed position: an autoincrement on SQLite, given by sync/changes.py on
# PostgreSQL (no default there: a change written any other way fails instead of hiding in the feed).
changes = Table(
    "changes", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("type", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("record", Text),  # JSON of the record as it now is; NULL when it was removed
    Column("at", Text, nullable=False),
    Column("school", Text),  # the kiosks it is for: that school's and those without one (NULL: every kiosk)
)

# The ledger's generation: made with the database, replaced by every restore. Kiosks compare it with
# the one they last saw: a new one means this server may lack what they sent (sync/generation.py).
ledger_generation = Table(
    "ledger_generation", metadata,
    Column("singleton", Integer, primary_key=True, autoincrement=False),
    Column("generation", Text, nullable=False),
    Column("feed_offset", BigInteger, nullable=False, server_default="0"),  # PostgreSQL's, see sync/changes.py
    CheckConstraint("singleton = 1", name="ledger_generation_singleton"),
)

closed_days = Table(
    "closed_days", metadata,  # days of the school calendar without service (holidays, closures)
    Column("day", Text, primary_key=True),
    Column("reason", Text, nullable=False),
)

documents = Table(
    "documents", metadata,  # files the manager publishes on the portal
    Column("document_id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("filename", Text, nullable=False),  # the name the family downloads it as
    Column("stored_name", Text, nullable=False, unique=True),  # the file in the instance's documents folder
    Column("content_type", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("published_at", Text, nullable=False),
)

mail_outbox = Table(
    "mail_outbox", metadata,  # every e-mail waits here until the SMTP server has taken it
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Text, nullable=False),
    Column("sent_at", Text),
    Column("given_up_at", Text),  # refused for good (bad address, header) or too many tries
    Column("last_error", Text),
)
Index("mail_outbox_due", mail_outbox.c.sent_at, mail_outbox.c.next_attempt_at)

mail_attachments = Table(
    "mail_attachments", metadata,  # files sent with an outbox message (a QR-bill, a statement)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("mail_outbox.id"), nullable=False, index=True),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

managers = Table(
    "managers", metadata,  # the canteen's staff who use the back office (not families, not cashiers)
    Column("manager_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("password_changed_at", Text, nullable=False),
    Column("role", Text, nullable=False, server_default="manager"),
    CheckConstraint("role IN ('manager', 'kitchen', 'accountant')", name="managers_role"),
)

payment_accounts = Table(
    "payment_accounts", metadata,  # a pupil's number in its payment references (QRR or RF), for good
    Column("account_number", Integer, primary_key=True, autoincrement=True),
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), nullable=False, unique=True),
)

bank_credits = Table(
    "bank_credits", metadata,  # every credit read from a bank file, once: the bank's reference is unique
    Column("bank_reference", Text, primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("reference", Text),
    Column("booked_on", Text),
    Column("payer", Text),
    Column("note", Text),
    Column("imported_at", Text, nullable=False),
    Column("entry_id", Text),  # the bank_topup entry; NULL while unmatched
)

online_payments = Table(
    "online_payments", metadata,  # each payment a family starts on the portal, credited once when confirmed
    Column("reference", Text, primary_key=True),  # ours, sent as the provider's refno
    Column("transaction_id", Text, nullable=False, unique=True),  # the provider's
    Column("family_id", Text, ForeignKey("families.family_id"), nullable=False),
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("method", Text, nullable=False),  # VIS, ECA, PFC, TWI
    Column("terms_document_id", Integer, nullable=False),  # the terms the family accepted
    Column("status", Text, nullable=False),  # pending, paid, declined, cancelled, review
    Column("provider_status", Text, nullable=False),  # as the provider last told it
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("entry_id", Text),  # the online_topup entry; NULL until the payment is confirmed
    # portal: the family paid on the provider's page; automatic: charged with a saved alias
    Column("origin", Text, nullable=False, server_default="portal"),
    # Set when the family asked, with this payment, to register its card or Twint for automatic
    # top-ups: below this balance, charge that amount (`automatic_topups`, written once it is paid).
    Column("automatic_threshold_cents", BigInteger),
    Column("automatic_amount_cents", BigInteger),
    CheckConstraint("amount_cents > 0", name="online_payments_amount_positive"),
)
Index("online_payments_by_created", online_payments.c.created_at)

automatic_topups = Table(
    "automatic_topups", metadata,  # a child whose family lets the canteen charge a saved card or Twint
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("family_id", Text, ForeignKey("families.family_id"), nullable=False),
    Column("threshold_cents", BigInteger, nullable=False),  # charge when a sync takes the balance below it
    Column("amount_cents", BigInteger, nullable=False),  # what each charge brings
    Column("method", Text, nullable=False),  # VIS, ECA, PFC, TWI
    Column("alias", Text, nullable=False),  # the provider's token for the card or Twint account
    Column("expiry_month", Text),  # a card's, sent with its alias
    Column("expiry_year", Text),
    Column("masked", Text),  # what the family recognises: 424242xxxxxx4242
    Column("terms_document_id", Integer, nullable=False),  # the terms accepted when registering
    Column("registered_with", Text, nullable=False),  # the online payment that registered it
    Column("created_at", Text, nullable=False),
    CheckConstraint("amount_cents > 0 AND threshold_cents >= 0", name="automatic_topups_amounts"),
)

automatic_topup_charges = Table(
    "automatic_topup_charges", metadata,  # each day's charge of a child's saved alias: one a day at most
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("family_id", Text, ForeignKey("families.family_id"), nullable=False),
    Column("day", Text, nullable=False),  # the Zurich day of the fall that asked for it
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", Text, nullable=False),  # due, sent, paid, declined, cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),  # declined attempts (one retry at most)
    Column("reference", Text),  # the current attempt's refno (our online payment's reference once sent)
    Column("attempt_started_at", Text),  # the current attempt's first call: the provider's idempotency window
    # What the current attempt charges, copied from the setting when it starts and cleared when it
    # ends: an attempt asked again after the family turned the setting off sends the same request.
    Column("method", Text),
    Column("alias", Text),
    Column("expiry_month", Text),
    Column("expiry_year", Text),
    Column("terms_document_id", Integer),
    Column("next_attempt_at", Text, nullable=False),  # due from then; a runner's claim moves it on
    Column("last_error", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)
Index("automatic_topup_charges_one_a_day", automatic_topup_charges.c.pupil_id, automatic_topup_charges.c.day,
      unique=True)
Index("automatic_topup_charges_due", automatic_topup_charges.c.status, automatic_topup_charges.c.next_attempt_at)

refund_requests = Table(
    "refund_requests", metadata,  # a family asks, the manager approves; paid out past the kiosk fence
    Column("request_id", Integer, primary_key=True, autoincrement=True),
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("family_id", Text, ForeignKey("families.family_id"), nullable=False),
    # The pupil's id while the request is open, NULL once paid, closed or refused: unique, so a
    # child has one open request at a time on SQLite and PostgreSQL alike (NULLs never collide).
    Column("open_for", Text, unique=True),
    Column("iban", Text, nullable=False),  # electronic form, no spaces
    Column("holder", Text, nullable=False),
    Column("status", Text, nullable=False),  # requested, approved, to_pay, paid, closed, refused
    Column("requested_at", Text, nullable=False),
    Column("decided_at", Text),
    Column("decided_by", Text),  # the manager who approved or refused
    Column("fence_seq", BigInteger),  # the hold's change seq: kiosks must have pulled past it
    Column("released_at", Text),
    Column("amount_cents", BigInteger),  # what the refund entry took; 0 when the balance was nil
    Column("entry_id", Text),  # the refund entry
    Column("exported_at", Text),  # last put in a pain.001 file
    Column("paid_at", Text),
    Column("paid_by", Text),
    Column("refusal_reason", Text),
)
Index("refund_requests_by_status", refund_requests.c.status, refund_requests.c.request_id)
Index("refund_requests_by_pupil", refund_requests.c.pupil_id, refund_requests.c.request_id)

sibling_transfers = Table(
    "sibling_transfers", metadata,  # a family moves money between its children, booked past the kiosk fence
    Column("transfer_id", Text, primary_key=True),  # a UUID: the reference both entries of the pair carry
    Column("family_id", Text, ForeignKey("families.family_id"), nullable=False),
    Column("from_pupil", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("to_pupil", Text, ForeignKey("pupils.pupil_id"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", Text, nullable=False),  # waiting (set aside), booked, cancelled
    Column("requested_at", Text, nullable=False),
    Column("fence_seq", BigInteger, nullable=False),  # the set-aside's change: kiosks must have pulled past it
    Column("settled_at", Text),  # booked or cancelled
    Column("debit_id", Text),  # the pair's entries, once booked
    Column("credit_id", Text),
    CheckConstraint("amount_cents > 0", name="sibling_transfers_amount_positive"),
    CheckConstraint("from_pupil <> to_pupil", name="sibling_transfers_two_children"),
)
Index("sibling_transfers_by_status", sibling_transfers.c.status, sibling_transfers.c.from_pupil)
Index("sibling_transfers_by_family", sibling_transfers.c.family_id, sibling_transfers.c.requested_at)

balance_alerts = Table(
    "balance_alerts", metadata,  # a family's own low-balance threshold for a child (else the canteen's)
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("threshold_cents", BigInteger, nullable=False),  # 0: no alert for this child
    Column("updated_at", Text, nullable=False),
    CheckConstraint("threshold_cents >= 0", name="balance_alerts_threshold_not_negative"),
)

standing_orders = Table(
    "standing_orders", metadata,  # a family's weekly booking for a child, applied week by week (standing_orders.py)
    Column("pupil_id", Text, ForeignKey("pupils.pupil_id"), primary_key=True),
    Column("weekdays", Text, nullable=False),  # "0,1,3": Monday, Tuesday, Thursday
    Column("kind", Text, nullable=False),
    Column("last_day", Text, nullable=False),
    Column("booked_through", Text, nullable=False),  # the days up to it are done: booked, or skipped and said why
    Column("created_at", Text, nullable=False),
    Column("family_id", Text, ForeignKey("families.family_id")),  # whose portal login made it
    Column("last_booked_day", Text),  # the latest day the order booked itself
    Column("last_skipped_day", Text),  # the latest day the rules left out (closed, past its deadline)...
    Column("last_skip_reason", Text),  # ...and why, as a stored message (`Message.as_data` in JSON)
    CheckConstraint("kind IN ('normal', 'special')", name="standing_orders_kind"),
)

audit_log = Table(
    "audit_log", metadata,  # every manager action, written in the action's own transaction
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),  # the manager's id, or "cli:<system user>"
    Column("action", Text, nullable=False),  # e.g. refund.approve (audit.ACTIONS)
    Column("subject", Text, nullable=False),  # what it acted on: a request, a bank reference, a kiosk
    Column("detail", Text, nullable=False, server_default=""),
)
Index("audit_log_by_at", audit_log.c.at)

cash_counts = Table(
    "cash_counts", metadata,  # the cash a kiosk's cashier counted in the drawer; a recount is a new row
    Column("id", Text, primary_key=True),  # made at the kiosk (UUID): a count pushed twice is stored once
    Column("kiosk_id", Text, nullable=False),
    Column("day", Text, nullable=False),
    Column("counted_cents", BigInteger, nullable=False),
    Column("counted_at", Text, nullable=False),
    Column("counted_by", Text),  # the cashier; NULL when counted from the kiosk's command line
    Column("received_at", Text, nullable=False),
    CheckConstraint("counted_cents >= 0", name="cash_counts_not_negative"),
)
Index("cash_counts_by_day", cash_counts.c.day, cash_counts.c.kiosk_id, cash_counts.c.counted_at)


# Sessions a logout ended (a session is its signed cookie: a copy would otherwise outlive the
# logout), kept as long as a session can last (`sessions.end`).
ended_sessions = Table(
    "ended_sessions", metadata,
    Column("sid", Text, primary_key=True),  # the random id each login gives its session
    Column("ended_at", Text, nullable=False),
)
