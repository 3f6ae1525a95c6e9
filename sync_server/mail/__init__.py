"""E-mail: the mails families receive, one template each (`compose`), and an outbox written in the
transaction of what it tells, sent by a background sender."""
