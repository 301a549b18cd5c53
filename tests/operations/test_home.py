import pytest
from django.contrib.auth import get_user_model


def test_anyone_not_staff_lands_on_the_api_docs(client, db):
    response = client.get("/")

    assert (response.status_code, response["Location"]) == (302, "/api/docs/")


def test_a_signed_in_user_who_is_not_staff_lands_on_the_api_docs(client, user):
    client.force_login(user)

    assert client.get("/")["Location"] == "/api/docs/"


def test_staff_land_on_the_dashboard(client, db):
    staff = get_user_model().objects.create_user(username="operator", password="long enough passphrase", is_staff=True)
    client.force_login(staff)

    assert client.get("/")["Location"] == "/dashboard/"


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_reads_are_answered(client, db, method):
    assert getattr(client, method)("/").status_code == 405
