"""E-mail: an outbox written in the transaction of what it tells, sent by a background sender."""
