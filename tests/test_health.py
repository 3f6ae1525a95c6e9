"""What a supervisor asks the server: `/healthz` (the process answers) and `/readyz` (the database
answers and is at the migrations' head), without a login, a cookie or anything written."""

from __future__ import annotations

import pytest
from alembic import command

from sync_server import create_app
from sync_server.db import alembic_config, head_revisions

from .live_server import free_port


@pytest.fixture
def client_of():
    """A test client of the app on a database; its connections closed when the test ends."""
    apps = []

    def client(database_url: str, instance):
        apps.append(create_app({"DATABASE_URL": database_url}, instance_path=str(instance)))
        return apps[-1].test_client()

    yield client
    for app in apps:
        app.extensions["refectory.engine"].dispose()


def test_healthz_says_ok_in_plain_text_to_anyone(client_of, tmp_path):
    client = client_of("sqlite://", tmp_path / "instance")
    answer = client.get("/healthz")
    assert (answer.status_code, answer.text, answer.mimetype) == (200, "ok\n", "text/plain")
    assert "Set-Cookie" not in answer.headers


@pytest.mark.on_each_database
def test_readyz_is_ready_when_the_database_answers_at_the_migrations_head(new_server_database, client_of, tmp_path):
    client = client_of(new_server_database(tmp_path, seeded=False).url, tmp_path / "instance")
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json) == (200, {"status": "ready"})
    assert answer.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in answer.headers


def test_readyz_says_migrations_behind_for_a_database_stamped_at_an_older_revision(migrated_database_url, client_of,
                                                                                          tmp_path):
    command.stamp(alembic_config(migrated_database_url), "0009", purge=True)
    answer = client_of(migrated_database_url, tmp_path / "instance").get("/readyz")
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.json["problem"] == "migrations_behind" and answer.json["title"] == "Migrations behind"
    assert "0009" in answer.json["detail"] and head_revisions()[0] in answer.json["detail"]
    assert "refectory server init" in answer.json["detail"]


def test_readyz_reports_a_missing_sqlite_database_without_creating_it(client_of, tmp_path):
    database = tmp_path / "never-initialised.db"
    answer = client_of(f"sqlite:///{database}", tmp_path / "instance").get("/readyz")
    assert (answer.status_code, answer.json["problem"]) == (503, "migrations_behind")
    assert "no schema" in answer.json["detail"]
    assert not database.exists()


def test_readyz_says_database_unreachable_without_naming_where_it_is(client_of, tmp_path):
    url = f"postgresql+psycopg://refectory:s3cret@127.0.0.1:{free_port()}/refectory"
    answer = client_of(url, tmp_path / "instance").get("/readyz")
    assert answer.status_code == 503
    assert (answer.json["problem"], answer.json["title"]) == ("database_unreachable", "Database unreachable")
    assert "127.0.0.1" not in answer.text and "s3cret" not in answer.text
