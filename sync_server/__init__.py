"""The sync server, parents' portal and back office: a Flask application factory (see issue 4)."""
