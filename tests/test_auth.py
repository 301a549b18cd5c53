import pytest
from django.core.cache import cache
from freezegun import freeze_time
from rest_framework.test import APIClient

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
PROTECTED = "/api/v1/app/integrations"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def obtain(anon: APIClient, username="alice", password=PASSWORD):
    return anon.post(TOKEN, {"username": username, "password": password}, format="json")


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


def test_password_guessing_is_throttled(anon, user, settings):
    statuses = [obtain(anon, password=f"guess-{n}").status_code for n in range(31)]

    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


def test_a_forged_forwarded_for_header_does_not_dodge_the_throttle(anon, user):
    statuses = [
        anon.post(TOKEN, {"username": "alice", "password": "guess"}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(31)
    ]

    assert statuses[30] == 429


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
