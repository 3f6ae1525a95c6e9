"""Backups of the server and their restore on the same or a new machine (`archive`): the database
(SQLite's online backup, or `pg_dump`) and the instance files a new machine needs, in one archive."""
