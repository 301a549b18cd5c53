"""`ai.prompt` on the OpenAI SDK, against the double's LLM over real HTTP: how the provider's
errors are translated, answers in JSON that must fit a schema, and the run's token budget."""

import json

import pytest

from workflows.definitions import DefinitionInvalid, definition_validate
from workflows.models import Conclusion, WorkflowRun
from workflows.nodes import NODE_TYPES, StepContext, StepFailed, StepRetryLater
from workflows.services import run_start, workflow_create

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
API_KEY = "sk-test-secret-key"
VERDICT = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["approve", "request_changes"]},
        "labels": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 5},
    },
    "required": ["verdict", "labels"],
    "additionalProperties": False,
}
COMPLETIONS = ("POST", "/chat/completions")


@pytest.fixture(autouse=True)
def llm_settings(settings):
    settings.AI_API_KEY = API_KEY
    settings.AI_MODEL = "gpt-test"
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


def trigger() -> dict:
    return {
        "event": "pull_request",
        "action": "opened",
        "delivery_id": "d-1",
        "installation_id": INSTALLATION,
        "repository": REPO,
        "sender": "octocat",
        "payload": {"number": 2},
    }


def chain(*params: dict, **top_level) -> dict:
    """ai.prompt nodes ask_0 -> ask_1 -> ..., with `params` each."""
    nodes = [{"id": f"ask_{index}", "type": "ai.prompt", "params": given} for index, given in enumerate(params)]
    edges = [{"from": f"ask_{index}", "to": f"ask_{index + 1}"} for index in range(len(params) - 1)]
    return {"nodes": nodes, "edges": edges, **top_level}


@pytest.fixture
def run_now(user, django_capture_on_commit_callbacks):
    """Save `definition` as a workflow, run it (eagerly) and return the run."""

    def run(definition: dict) -> WorkflowRun:
        workflow = workflow_create(owner=user, name="Ask", definition=definition)
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(workflow=workflow, trigger=trigger())
        created.refresh_from_db()
        return created

    return run


@pytest.fixture
def ask(user):
    """Execute one ai.prompt step with `params`, as the engine would, in a run that is not executed:
    what the node raises is seen as raised."""

    def execute(params: dict) -> dict:
        workflow = workflow_create(owner=user, name="Ask", definition=chain(params))
        run = run_start(workflow=workflow, trigger=trigger())
        context = StepContext(
            run_id=str(run.pk),
            node_id="ask_0",
            owner_id=user.pk,
            installation_id=INSTALLATION,
            repository=REPO,
            trigger=trigger(),
            dry_run=False,
        )
        return NODE_TYPES["ai.prompt"].execute(params, context)

    return execute


class TestProviderErrors:
    def test_a_rate_limit_is_retried_after_the_delay_the_provider_asks_for(self, ask, llm):
        llm.fail(*COMPLETIONS, 429, json={"error": {"message": "slow down"}}, headers={"retry-after": "7"})

        with pytest.raises(StepRetryLater, match="rate limiting") as raised:
            ask({"prompt": "hi"})

        assert raised.value.delay == 7.0

    def test_a_rate_limit_without_retry_after_leaves_the_wait_to_the_engine(self, ask, llm):
        llm.answers((429, ""))

        with pytest.raises(StepRetryLater) as raised:
            ask({"prompt": "hi"})

        assert raised.value.delay is None

    def test_a_retry_after_is_capped_at_the_engines_longest_wait(self, ask, llm, settings):
        settings.WORKFLOW_STEP_RETRY_MAX_SECONDS = 60
        llm.fail(*COMPLETIONS, 429, json={"error": {"message": "slow down"}}, headers={"retry-after": "86400"})

        with pytest.raises(StepRetryLater) as raised:
            ask({"prompt": "hi"})

        assert raised.value.delay == 60.0

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_a_server_error_is_retried(self, ask, llm, status):
        llm.answers((status, ""))

        with pytest.raises(StepRetryLater, match=f"answered {status}"):
            ask({"prompt": "hi"})

    def test_a_dropped_connection_is_retried(self, ask, llm):
        llm.fail(*COMPLETIONS, error=ConnectionResetError("reset by peer"))

        with pytest.raises(StepRetryLater, match="could not be reached"):
            ask({"prompt": "hi"})

        assert llm.count(*COMPLETIONS) == 1, "the SDK must not retry on its own: the engine does"

    def test_an_answer_later_than_the_timeout_is_retried(self, ask, llm, settings):
        settings.AI_TIMEOUT_SECONDS = 0.3
        llm.slow(1.5, *COMPLETIONS)

        with pytest.raises(StepRetryLater, match="did not answer within 0.3 s"):
            ask({"prompt": "hi"})

    @pytest.mark.parametrize(
        "status, message",
        [
            (400, "refused the request"),
            (403, "denied this key the use of model 'gpt-test'"),
            (404, "has no model 'gpt-test'"),
            (422, "refused the request"),
        ],
    )
    def test_a_refusal_fails_the_step(self, ask, llm, status, message):
        llm.answers((status, ""))

        with pytest.raises(StepFailed, match=message):
            ask({"prompt": "hi"})

        assert llm.count(*COMPLETIONS) == 1

    def test_a_refused_key_fails_the_step_without_showing_the_key_or_the_prompt(self, ask, llm):
        llm.api_key = "sk-the-right-one"  # and the double quotes the wrong key back, as OpenAI does

        with pytest.raises(StepFailed, match="refused the API key") as raised:
            ask({"prompt": "the secret plan"})

        [request] = llm.requests(*COMPLETIONS)
        assert request.status == 401 and API_KEY in request.headers["Authorization"]
        assert API_KEY not in str(raised.value) and "secret plan" not in str(raised.value)

    def test_a_refusal_through_the_engine_fails_the_step_at_once_without_the_key(self, run_now, llm):
        llm.api_key = "sk-the-right-one"

        run = run_now(chain({"prompt": "hi"}))

        step = run.steps.get()
        assert (run.conclusion, step.attempts) == (Conclusion.FAILURE, 1)
        assert "AI_API_KEY" in step.error and API_KEY not in step.error + run.error

    def test_a_rate_limited_step_is_tried_again_and_succeeds(self, run_now, llm):
        llm.answers((429, ""), (500, ""), (200, "third time"))

        step = run_now(chain({"prompt": "hi"})).steps.get()

        assert (step.conclusion, step.attempts, step.output["text"]) == ("success", 3, "third time")


class TestJsonSchema:
    def test_an_answer_that_fits_is_parsed_into_json(self, run_now, llm):
        answer = {"verdict": "approve", "labels": ["docs"]}
        llm.answers((200, json.dumps(answer)))

        step = run_now(chain({"prompt": "Judge", "json_schema": VERDICT})).steps.get()

        assert step.conclusion == "success"
        assert (step.output["json"], step.output["text"]) == (answer, json.dumps(answer))
        sent = llm.requests(*COMPLETIONS)[0].json()
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "ask_0", "schema": VERDICT, "strict": True},
        }
        assert API_KEY not in json.dumps(step.output)

    def test_structured_output_feeds_a_later_step(self, run_now, llm):
        llm.answers((200, '{"verdict": "request_changes", "labels": []}'), (200, "ok"))
        definition = chain({"prompt": "Judge", "json_schema": VERDICT}, {"prompt": "{{ nodes.ask_0.json.verdict }}"})

        run_now(definition)

        assert llm.requests(*COMPLETIONS)[1].json()["messages"][-1]["content"] == "request_changes"

    def test_without_a_schema_no_format_is_asked_and_no_json_given(self, run_now, llm):
        step = run_now(chain({"prompt": "hi"})).steps.get()

        assert "response_format" not in llm.requests(*COMPLETIONS)[0].json()
        assert "json" not in step.output

    @pytest.mark.parametrize(
        "answer, message",
        [
            ("Sure! Here is the JSON:", "is not JSON"),
            ('{"verdict": NaN, "labels": []}', "is not JSON"),
            ('{"verdict": "merge", "labels": []}', "at verdict: 'merge' is not one of"),
            ('{"verdict": "approve"}', "'labels' is a required property"),
            ('{"verdict": "approve", "labels": ["x"], "extra": 1}', "Additional properties"),
        ],
    )
    def test_an_answer_that_does_not_fit_fails_the_step(self, run_now, llm, answer, message):
        llm.answers((200, answer))

        step = run_now(chain({"prompt": "Judge", "json_schema": VERDICT})).steps.get()

        assert (step.conclusion, step.attempts) == ("failure", 1)
        assert message in step.error and step.output is None

    def test_a_long_mismatch_is_reported_truncated(self, run_now, llm):
        llm.answers((200, json.dumps({"verdict": "x" * 5000, "labels": []})))

        step = run_now(chain({"prompt": "Judge", "json_schema": VERDICT})).steps.get()

        assert step.conclusion == "failure" and len(step.error) < 700

    def test_an_answer_cut_at_the_token_limit_says_so(self, run_now, llm):
        llm.answers((200, '{"verdict": "appro'))

        step = run_now(chain({"prompt": "Judge", "json_schema": VERDICT, "max_tokens": 5})).steps.get()

        assert "cut at the token limit" in step.error

    def test_a_reference_outside_the_schema_is_never_fetched(self, run_now, llm, settings):
        schema = {"$ref": f"{settings.AI_BASE_URL}/schemas/verdict.json"}
        llm.answers((200, "{}"))

        step = run_now(chain({"prompt": "Judge", "json_schema": schema})).steps.get()

        assert step.conclusion == "failure" and "refers to what it does not contain" in step.error
        assert llm.count("GET") == 0


class TestJsonSchemaAtSaveTime:
    @pytest.mark.parametrize(
        "schema, message",
        [
            ({"type": "nope"}, "not a valid JSON Schema at type"),
            ({"properties": {"verdict": {"enum": "approve"}}}, "not a valid JSON Schema at properties/verdict/enum"),
            ({"pattern": "(unclosed"}, "may not use `pattern`"),
            # Catastrophic backtracking in Python's re on the model's answer: refused, not run.
            ({"properties": {"title": {"type": "string", "pattern": "^(a+)+$"}}}, "may not use `pattern`"),
            ({"items": [{"patternProperties": {"^(a|a)*$": {}}}]}, "may not use `pattern`"),
            ({"enum": ["x" * 100] * 250}, "over the limit of 20000"),
        ],
    )
    def test_a_bad_schema_is_refused_naming_the_node(self, api, schema, message):
        definition = chain({"prompt": "Judge", "json_schema": schema})

        response = api.post("/api/v1/app/workflows", {"name": "Judge", "definition": definition}, format="json")

        assert response.status_code == 400
        body = response.json()
        assert "Node 'ask_0'" in body["error"] and message in body["error"]
        assert (body["detail"]["node"], body["detail"]["field"]) == ("ask_0", "json_schema")

    def test_a_schema_that_is_not_an_object_is_refused(self):
        with pytest.raises(DefinitionInvalid) as raised:
            definition_validate(chain({"prompt": "Judge", "json_schema": "{}"}))

        assert raised.value.detail["field"] == "json_schema"

    def test_a_property_named_pattern_is_only_a_name(self, api):
        schema = {"type": "object", "properties": {"pattern": {"type": "string"}}}
        definition = chain({"prompt": "Judge", "json_schema": schema})

        response = api.post("/api/v1/app/workflows", {"name": "Judge", "definition": definition}, format="json")

        assert response.status_code == 201

    def test_a_good_schema_is_saved(self, api):
        definition = chain({"prompt": "Judge", "json_schema": VERDICT})

        response = api.post("/api/v1/app/workflows", {"name": "Judge", "definition": definition}, format="json")

        assert response.status_code == 201 and response.json()["definition"] == definition


class TestTokenBudget:
    def test_the_budget_stops_the_call_that_would_pass_it(self, run_now, llm):
        # Every answer of the double uses 42 tokens: two calls spend a budget of 84.
        run = run_now(chain({"prompt": "one"}, {"prompt": "two"}, {"prompt": "three"}, max_tokens_per_run=84))

        steps = {step.node_id: step for step in run.steps.all()}
        assert [steps[node].conclusion for node in ("ask_0", "ask_1", "ask_2")] == ["success", "success", "failure"]
        assert steps["ask_2"].error == "The run's token budget of 84 is spent: 84 used."
        assert steps["ask_2"].attempts == 1 and llm.count(*COMPLETIONS) == 2

    def test_the_completion_is_capped_at_what_remains(self, run_now, llm):
        run_now(chain({"prompt": "one"}, {"prompt": "two", "max_tokens": 1000}, max_tokens_per_run=100))

        first, second = (request.json() for request in llm.requests(*COMPLETIONS))
        assert (first["max_tokens"], second["max_tokens"]) == (100, 58)

    def test_a_smaller_cap_asked_for_is_kept(self, run_now, llm):
        run_now(chain({"prompt": "one", "max_tokens": 20}, max_tokens_per_run=100))

        assert llm.requests(*COMPLETIONS)[0].json()["max_tokens"] == 20

    def test_the_default_budget_comes_from_the_settings(self, run_now, llm, settings):
        settings.AI_MAX_TOKENS_PER_RUN = 42

        run = run_now(chain({"prompt": "one"}, {"prompt": "two"}))

        assert [step.conclusion for step in run.steps.order_by("position")] == ["success", "failure"]
        assert run.steps.get(node_id="ask_1").error == "The run's token budget of 42 is spent: 42 used."

    def test_far_from_the_budget_no_cap_is_sent_unless_asked_for(self, run_now, llm):
        run_now(chain({"prompt": "one"}))

        assert "max_tokens" not in llm.requests(*COMPLETIONS)[0].json()

    @pytest.mark.parametrize("budget", [0, -1, True, 1.5, "{{ 10 ** 9 }}", 10**12])
    def test_a_bad_budget_is_refused(self, budget):
        with pytest.raises(DefinitionInvalid, match="max_tokens_per_run"):
            definition_validate(chain({"prompt": "one"}, max_tokens_per_run=budget))
