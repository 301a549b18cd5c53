from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
PROTECTED = "/api/v1/app/integrations"
PASSWORD = "correct horse battery staple"


def obtain(anon: APIClient, username="alice", password=PASSWORD, **extra):
    return anon.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def guess_until_locked(anon: APIClient, limit: int, **extra) -> list[int]:
    return [obtain(anon, password=f"guess-{n}", **extra).status_code for n in range(limit)]


def test_obtain_and_use_a_token(anon, user):
    response = obtain(anon)

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert anon.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}").status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_is_refused(anon, user):
    refresh = obtain(anon).json()["refresh"]

    first = anon.post(REFRESH, {"refresh": refresh}, format="json")
    again = anon.post(REFRESH, {"refresh": refresh}, format="json")

    assert first.status_code == 200 and set(first.json()) == {"access", "refresh"}
    assert again.status_code == 401
    assert set(again.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "body",
    [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": PASSWORD}],
)
def test_wrong_credentials_are_a_401(anon, user, body):
    response = anon.post(TOKEN, body, format="json")

    assert response.status_code == 401
    assert response.json()["error"]


@pytest.mark.parametrize("body", [{}, {"username": "alice"}, {"password": PASSWORD}])
def test_missing_fields_are_a_400(anon, db, body):
    response = anon.post(TOKEN, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "The request is invalid."


def test_malformed_json_is_a_400(anon, db):
    response = anon.post(TOKEN, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"error", "detail"}


def test_form_body_is_a_415(anon, db):
    response = anon.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="multipart")

    assert response.status_code == 415


def test_password_spraying_from_one_address_is_throttled(anon, user):
    """One guess for each of many usernames: no lockout counts it, the address's throttle does."""
    statuses = [obtain(anon, username=f"user-{n}", password="Summer2026!").status_code for n in range(31)]

    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


def test_a_forged_forwarded_for_header_does_not_dodge_the_throttle(anon, user):
    statuses = [
        anon.post(
            TOKEN, {"username": f"user-{n}", "password": "guess"}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        ).status_code
        for n in range(31)
    ]

    assert statuses[30] == 429


def test_guessing_a_password_locks_that_user_out_from_that_address(anon, user, settings):
    limit = settings.AXES_FAILURE_LIMIT

    guesses = guess_until_locked(anon, limit)
    right_password = obtain(anon)

    assert guesses == [401] * (limit - 1) + [429]
    assert right_password.status_code == 429
    assert right_password["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert set(right_password.json()) == {"error", "detail"}
    assert obtain(anon, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout(anon, user, settings):
    guess_until_locked(anon, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="10.0.0.1")

    assert obtain(anon, HTTP_X_FORWARDED_FOR="10.0.0.99").status_code == 429


def test_the_lockout_ends_after_the_cool_off(anon, user, settings):
    locked_at = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    with freeze_time(locked_at):
        guess_until_locked(anon, settings.AXES_FAILURE_LIMIT)
    with freeze_time(locked_at + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert obtain(anon).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer garbage", "Bearer a.b.c", "Token abc", "Basic YWxpY2U6cGFzcw=="],
)
def test_missing_or_garbage_jwt_is_a_401(anon, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = anon.get(PROTECTED, **extra)

    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail"}


def test_expired_jwt_is_a_401(anon, user):
    with freeze_time("2026-01-01 10:00:00"):
        access = obtain(anon).json()["access"]
    with freeze_time("2026-01-01 10:16:00"):
        response = anon.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 401


def test_refresh_token_is_not_an_access_token(anon, user):
    refresh = obtain(anon).json()["refresh"]

    assert anon.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {refresh}").status_code == 401


def test_token_of_a_deactivated_user_is_refused(anon, user):
    access = obtain(anon).json()["access"]
    user.is_active = False
    user.save()

    assert anon.get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
