import os
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from kombu import Connection


@pytest.mark.parametrize("url", ["/nope", "/api/v1/app/nothing-here", "/api/v1/app/integrations/github/install/x"])
def test_unknown_urls_are_json_404s(client, db, url):
    response = client.get(url)

    assert response.status_code == 404
    assert response.json() == {"error": "Not found.", "detail": {}}


def test_openapi_schema_is_served(client, db):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/public/webhooks/github/auth" in response.content


def test_openapi_schema_is_valid_and_unambiguous(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))


def test_admin_login_page_renders(client, db):
    assert client.get("/admin/login/").status_code == 200


def test_models_and_migrations_agree(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_filesystem_broker_shows_a_message_to_consumers_only_once_it_is_whole(tmp_path, monkeypatch):
    folders = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    with Connection(
        "filesystem://", transport="aiworkflow.broker:FilesystemTransport", transport_options=folders
    ) as connection:
        queue = connection.SimpleQueue("deliveries")
        waiting_while_written = []
        rename = os.replace

        def rename_after_a_look(staged, final):
            waiting_while_written.append(queue.qsize())
            rename(staged, final)

        monkeypatch.setattr(os, "replace", rename_after_a_look)
        queue.put({"delivery_pks": [1, 2]})

        assert waiting_while_written == [0], "a consumer looking meanwhile finds nothing to take"
        assert queue.get(timeout=1).payload == {"delivery_pks": [1, 2]}
        assert sorted(path.name for path in tmp_path.iterdir()) == ["deliveries.exchange"], "nothing is left behind"


def test_every_beat_entry_names_a_registered_task(settings):
    from aiworkflow.celery import app

    app.loader.import_default_modules()

    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)


def test_every_compose_service_has_a_health_check():
    """An orchestrator can only restart, or wait for, what it can probe."""
    compose = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())

    for name, service in compose["services"].items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
