"""PostgreSQL stores no NUL character in text or jsonb: one sent in any API body is a 400 at the
door, never a database error (a 500) past every check."""

import pytest

from workflows.models import Workflow

CONDITION = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "/api/v1/app/workflows",
            {
                "name": "x",
                "definition": {**CONDITION, "nodes": [{**CONDITION["nodes"][0], "params": {"condition": "a\u0000"}}]},
            },
        ),
        (
            "/api/v1/app/workflows",
            {
                "name": "x",
                "definition": CONDITION,
                "triggers": [{"config": {"repository": "a/b", "events": ["push"], "branches": ["m\u0000"]}}],
            },
        ),
        ("/api/v1/app/workflows", {"name": "x", "definition": CONDITION, "key\u0000": 1}),
        (
            "/api/v1/app/triggers/test",
            {"config": {"repository": "a/b", "events": ["push"]}, "event": "push", "payload": {"ref": "\u0000"}},
        ),
    ],
)
def test_a_nul_character_anywhere_in_a_body_is_a_400(api, path, body):
    response = api.post(path, body, format="json")

    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
    assert not Workflow.objects.exists()


def test_a_test_run_payload_with_a_nul_character_is_a_400(api, user):
    workflow_id = api.post("/api/v1/app/workflows", {"name": "x", "definition": CONDITION}, format="json").json()["id"]

    response = api.post(
        f"/api/v1/app/workflows/{workflow_id}/test", {"event": "push", "payload": {"ref": "a\u0000"}}, format="json"
    )

    assert response.status_code == 400
