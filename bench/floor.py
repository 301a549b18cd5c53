"""The durable floor intake is measured against: the least a webhook endpoint that keeps its
deliveries can do, as a bare WSGI app (no Django) served by the same gunicorn.

It reads the body, checks its X-Hub-Signature-256 and stores it with one autocommitted
`INSERT ... ON CONFLICT (delivery_id) DO NOTHING`, then answers 202 (200 for a duplicate). The
table is a copy of the deliveries' own, indexes included (`LIKE ... INCLUDING ALL`), so that a
row costs PostgreSQL what intake's does, while the floor's rows stay out of intake's table and
out of its hand-off count.
"""

import hashlib
import hmac
import json
import os

import psycopg

TABLE = "bench_floor_delivery"
INSERT = f"""
    INSERT INTO {TABLE} (
        delivery_id, event, hook_id, payload, action, repository_full_name, sender_login, sender_type,
        status, attempts, last_error, runs_started, received_at
    ) VALUES (%s, %s, %s, %s, '', '', '', '', 'received', 0, '', 0, now())
    ON CONFLICT (delivery_id) DO NOTHING RETURNING id
"""
SECRET = os.environ.get("GITHUB_WEBHOOK_SECRET", "").encode()
_connection: psycopg.Connection | None = None


def table_create(conn: psycopg.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (LIKE github_app_webhookdelivery INCLUDING ALL)")


def _database() -> psycopg.Connection:
    """One connection per worker process, opened after gunicorn forks it, kept like Django's."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return _connection


def _answer(start_response, status: str, body: dict) -> list[bytes]:
    content = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(content)))])
    return [content]


def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not SECRET or not hmac.compare_digest(expected.encode(), environ.get("HTTP_X_HUB_SIGNATURE_256", "").encode()):
        return _answer(start_response, "401 Unauthorized", {"error": "bad signature", "detail": {}})
    hook_id = environ.get("HTTP_X_GITHUB_HOOK_ID", "")
    delivery = (
        environ.get("HTTP_X_GITHUB_DELIVERY", ""),
        environ.get("HTTP_X_GITHUB_EVENT", ""),
        int(hook_id) if hook_id.isdigit() else None,
        body,
    )
    if _database().execute(INSERT, delivery).fetchone() is None:
        return _answer(start_response, "200 OK", {"status": "duplicate"})
    return _answer(start_response, "202 Accepted", {"status": "queued"})
