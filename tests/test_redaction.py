import json
import logging

from aiworkflow.logging import JsonFormatter
from aiworkflow.redaction import REDACTED, redact_secrets

LEAKY_OUTPUT = {"result": "visible-output", "token": "ghs_secret", "nested": {"api_key": "api-key-value"}}
HIDDEN_OUTPUT = {"result": "visible-output", "token": REDACTED, "nested": {"api_key": REDACTED}}


def test_secret_like_keys_are_hidden_at_any_depth_in_lists_and_tuples():
    value = {"items": ({"password": "p"}, [{"Authorization": "Bearer x", "name": "kept"}])}

    assert redact_secrets(value) == {"items": [{"password": REDACTED}, [{"Authorization": REDACTED, "name": "kept"}]]}


def test_the_run_api_hides_secret_like_values_of_step_outputs(api, user):
    from workflows.models import StepRun, WorkflowRun
    from workflows.services import workflow_create

    workflow = workflow_create(
        owner=user,
        name="Leaky",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}], "edges": []},
    )
    run = WorkflowRun.objects.create(
        workflow=workflow, version=workflow.current_version, owner=user, trigger={"event": "push", "action": ""}
    )
    StepRun.objects.create(run=run, node_id="c", node_type="logic.condition", position=0, output=LEAKY_OUTPUT)

    response = api.get(f"/api/v1/app/runs/{run.pk}")

    assert response.status_code == 200
    assert response.json()["steps"][0]["output"] == HIDDEN_OUTPUT
    assert "ghs_secret" not in response.content.decode()


def format_json_line(**extra) -> dict:
    record = logging.makeLogRecord(
        {"name": "workflows", "levelno": logging.INFO, "levelname": "INFO", "msg": "step done", **extra}
    )
    return json.loads(JsonFormatter().format(record))


def test_json_logs_hide_secret_like_values_inside_extra_fields():
    line = format_json_line(run_id="r-1", output=LEAKY_OUTPUT)

    assert line["run_id"] == "r-1"
    assert line["output"] == HIDDEN_OUTPUT


def test_json_logs_hide_extra_fields_whose_names_are_secret_like():
    line = format_json_line(access_token="ghs_secret", headers=[{"Authorization": "Bearer ghs_secret"}])

    assert line["access_token"] == REDACTED
    assert line["headers"] == [{"Authorization": REDACTED}]
    assert "ghs_secret" not in json.dumps(line)
