import pytest
from django.utils import timezone

from github_app.models import WebhookDelivery
from integrations.models import OAuthToken
from tests.conftest import client_for, github_connection

LIST = "/api/v1/app/deliveries"
Status = WebhookDelivery.Status


REPOSITORIES = {11: "octo/one", 12: "octo/two", 21: "other/one"}


def delivery(installation_id: int, **fields) -> WebhookDelivery:
    defaults = {
        "delivery_id": f"d-{WebhookDelivery.objects.count()}",
        "event": "push",
        "installation_id": installation_id,
        "repository_full_name": "octo/one",
        "payload": b'{"ref": "refs/heads/main"}',
        "status": Status.PROCESSED,
    }
    fields = {**defaults, **fields}
    ids = {name: repository_id for repository_id, name in REPOSITORIES.items()}
    return WebhookDelivery.objects.create(repository_id=ids.get(fields["repository_full_name"]), **fields)


@pytest.fixture
def mine(user):
    github_connection(user, 1, repositories={11: "octo/one", 12: "octo/two"})
    return [delivery(1), delivery(1, event="issues", status=Status.FAILED, repository_full_name="octo/two")]


class TestList:
    def test_lists_only_deliveries_of_the_users_installations(self, api, other_user, mine):
        github_connection(other_user, 2, repositories={21: "other/one"})
        delivery(2, repository_full_name="other/one")
        delivery(None, event="ping")

        response = api.get(LIST)

        assert response.status_code == 200
        assert [item["delivery_id"] for item in response.json()["results"]] == [
            mine[1].delivery_id,
            mine[0].delivery_id,
        ]
        assert "payload" not in response.json()["results"][0]

    @pytest.mark.parametrize(
        "query, expected",
        [({"event": "issues"}, 1), ({"status": "failed"}, 1), ({"repository": "OCTO/ONE"}, 1), ({"event": "nope"}, 0)],
    )
    def test_filters(self, api, mine, query, expected):
        assert len(api.get(LIST, query).json()["results"]) == expected

    @pytest.mark.parametrize("query", [{"status": "bogus"}, {"event": "e" * 65}, {"repository": "r" * 256}])
    def test_bad_filters_are_a_400(self, api, mine, query):
        response = api.get(LIST, query)
        assert response.status_code == 400
        assert set(response.json()) == {"error", "detail"}

    def test_a_collaborator_sees_only_the_repositories_their_own_token_sees(self, api, other_user, mine):
        """Bob collaborates on octo/two only, in the same installation: Alice's octo/one stays
        hidden from him, in the list, its filters and its replay."""
        github_connection(other_user, 1, repositories={12: "octo/two"})
        bob = client_for(other_user)

        listed = bob.get(LIST).json()["results"]
        filtered = bob.get(LIST, {"repository": "octo/one"}).json()["results"]
        replay = bob.post(f"{LIST}/{mine[0].pk}/replay")

        assert [item["repository"] for item in listed] == ["octo/two"]
        assert filtered == []
        assert replay.status_code == 404

    def test_pages_with_a_cursor(self, api, user):
        github_connection(user, 1, repositories={11: "octo/one"})
        for _ in range(5):
            delivery(1)

        first = api.get(LIST, {"page_size": 2}).json()
        second = api.get(first["next"]).json()

        assert len(first["results"]) == len(second["results"]) == 2
        assert not {item["id"] for item in first["results"]} & {item["id"] for item in second["results"]}

    def test_a_revoked_connection_hides_the_deliveries(self, api, user, mine):
        OAuthToken.objects.update(is_active=False)
        assert api.get(LIST).json()["results"] == []

    def test_needs_a_jwt(self, client, db):
        assert client.get(LIST).status_code == 401


class TestReplay:
    def url(self, item: WebhookDelivery) -> str:
        return f"{LIST}/{item.pk}/replay"

    def test_replays_a_finished_delivery(self, api, mine, django_capture_on_commit_callbacks):
        failed = mine[1]
        WebhookDelivery.objects.filter(pk=failed.pk).update(attempts=8, last_error="boom")

        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(self.url(failed))

        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        failed.refresh_from_db()
        assert (failed.status, failed.attempts, failed.last_error) == (Status.PROCESSED, 1, "")

    def test_another_users_delivery_is_a_404(self, other_user, mine):
        response = client_for(other_user).post(self.url(mine[0]))

        assert response.status_code == 404
        assert WebhookDelivery.objects.get(pk=mine[0].pk).status == Status.PROCESSED

    def test_a_purged_delivery_is_a_409(self, api, mine):
        WebhookDelivery.objects.filter(pk=mine[0].pk).update(payload=b"", payload_purged_at=timezone.now())

        response = api.post(self.url(mine[0]))

        assert response.status_code == 409
        assert "purged" in response.json()["error"]

    def test_a_delivery_being_processed_is_a_409(self, api, mine):
        WebhookDelivery.objects.filter(pk=mine[0].pk).update(status=Status.PROCESSING, claimed_at=timezone.now())

        assert api.post(self.url(mine[0])).status_code == 409

    @pytest.mark.parametrize("path", [f"{LIST}/999999/replay", f"{LIST}/abc/replay"])
    def test_unknown_ids_are_a_404(self, api, mine, path):
        assert api.post(path).status_code == 404

    def test_get_is_not_allowed(self, api, mine):
        assert api.get(self.url(mine[0])).status_code == 405
