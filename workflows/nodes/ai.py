"""`ai.prompt`: a chat completion from any OpenAI-compatible server at AI_BASE_URL, through the
official SDK; optionally an answer in JSON that fits a JSON Schema; within the run's token budget."""

import json
import math
import re
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from referencing import Registry
from referencing.exceptions import Unresolvable

from aiworkflow import metrics
from workflows.models import Conclusion, StepRun, WorkflowRun
from workflows.nodes.base import TEMPLATED_STRING, ParamsInvalid, StepContext, StepFailed, StepRetryLater, node_type

NODE_TYPE = "ai.prompt"
JSON_SCHEMA_MAX_BYTES = 20_000
# Sent when no key is configured (a local server that wants none): the SDK requires one.
API_KEY_PLACEHOLDER = "no-key"
# Providers refuse a `max_tokens` beyond a model's own output limit, which is unknown here; below
# this, which every chat model accepts, the rest of the run's budget is sent as the cap.
BUDGET_CAP_SENT_BELOW = 4096
MESSAGE_DETAIL_MAX = 500
# A provider's error code is shown only when it is an identifier ("context_length_exceeded"): its
# message may quote the request, or the key ("Incorrect API key provided: sk-...").
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def _clip(prompt: str) -> tuple[str, bool]:
    limit = settings.AI_MAX_PROMPT_CHARS
    if len(prompt) <= limit:
        return prompt, False
    note = f"\n\n[The input was clipped to {limit} of its {len(prompt)} characters.]"
    return prompt[: limit - len(note)] + note, True


def json_schema_check(schema: dict) -> None:
    """Refuse a schema that is too large or not itself a valid JSON Schema (draft 2020-12)."""
    size = len(json.dumps(schema))
    if size > JSON_SCHEMA_MAX_BYTES:
        raise ParamsInvalid(
            f"`json_schema` is {size} bytes as JSON, over the limit of {JSON_SCHEMA_MAX_BYTES}.", field="json_schema"
        )
    if _uses_regular_expressions(schema):
        raise ParamsInvalid(
            "`json_schema` may not use `pattern` or `patternProperties`: a regular expression run on the model's "
            "answer has no bound on its cost.",
            field="json_schema",
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "its root"
        raise ParamsInvalid(
            f"`json_schema` is not a valid JSON Schema at {where}: {exc.message[:MESSAGE_DETAIL_MAX]}",
            field="json_schema",
        ) from None


def _uses_regular_expressions(schema) -> bool:
    """Whether a `pattern` or `patternProperties` keyword appears anywhere (jsonschema runs them
    with Python's backtracking `re`). A property merely named so holds a schema, not a string."""
    if isinstance(schema, list):
        return any(_uses_regular_expressions(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    if isinstance(schema.get("pattern"), str) or isinstance(schema.get("patternProperties"), dict):
        return True
    return any(_uses_regular_expressions(value) for value in schema.values())


def _params_check(params: dict) -> None:
    if "json_schema" in params:
        json_schema_check(params["json_schema"])


def _run_token_budget(*, run_id: str) -> int:
    """Read from the run's stored definition, beyond the reach of any template."""
    definition = WorkflowRun.objects.select_related("version").get(pk=run_id).version.definition
    return definition.get("max_tokens_per_run") or settings.AI_MAX_TOKENS_PER_RUN


def _run_tokens_used(*, run_id: str, node_id: str) -> int:
    outputs = (
        StepRun.objects.filter(run_id=uuid.UUID(run_id), node_type=NODE_TYPE, conclusion=Conclusion.SUCCESS)
        .exclude(node_id=node_id)
        .values_list("output", flat=True)
    )
    totals = [((output or {}).get("usage") or {}).get("total_tokens") for output in outputs]
    return sum(total for total in totals if isinstance(total, int))


def _run_tokens_remaining(context: StepContext) -> int:
    budget = _run_token_budget(run_id=context.run_id)
    used = _run_tokens_used(run_id=context.run_id, node_id=context.node_id)
    if used >= budget:
        raise StepFailed(f"The run's token budget of {budget} is spent: {used} used.")
    return budget - used


def _completion_cap(*, requested: int | None, remaining: int) -> int | None:
    if requested is not None:
        return min(requested, remaining)
    return remaining if remaining < BUDGET_CAP_SENT_BELOW else None


def _retry_after_seconds(error: openai.APIStatusError) -> float | None:
    """The provider's `retry-after` (seconds or an HTTP date), within the engine's longest wait."""
    value = error.response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), float(settings.WORKFLOW_STEP_RETRY_MAX_SECONDS))


def _error_code(error: openai.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    for candidate in (error.code, body.get("code"), error.type, body.get("type")):
        if isinstance(candidate, str) and _ERROR_CODE.match(candidate):
            return f", {candidate}"
    return ""


def _provider_error(error: openai.OpenAIError, *, model: str) -> StepFailed | StepRetryLater:
    """The SDK's error as the engine understands it: passing troubles are tried again later, a
    refusal fails the step. Messages are written here: neither the key nor the prompt is in them."""
    if isinstance(error, openai.APITimeoutError):
        return StepRetryLater(f"The AI provider did not answer within {settings.AI_TIMEOUT_SECONDS} s.")
    if isinstance(error, openai.APIConnectionError):
        cause = type(error.__cause__).__name__ if error.__cause__ else "connection error"
        return StepRetryLater(f"The AI provider could not be reached ({cause}).")
    if not isinstance(error, openai.APIStatusError):
        return StepFailed(f"The AI provider's answer could not be used ({type(error).__name__}).")
    status, code = error.status_code, _error_code(error)
    if isinstance(error, openai.RateLimitError):
        delay = _retry_after_seconds(error)
        return StepRetryLater(f"The AI provider is rate limiting (429{code}).", delay=delay)
    if isinstance(error, openai.InternalServerError) or status == 408:
        return StepRetryLater(f"The AI provider answered {status}.")
    if isinstance(error, openai.AuthenticationError):
        return StepFailed(f"The AI provider refused the API key ({status}{code}): check AI_API_KEY.")
    if isinstance(error, openai.PermissionDeniedError):
        return StepFailed(f"The AI provider denied this key the use of model {model!r} ({status}{code}).")
    if isinstance(error, openai.NotFoundError):
        return StepFailed(
            f"The AI provider has no model {model!r}, or no chat completions at AI_BASE_URL ({status}{code})."
        )
    return StepFailed(f"The AI provider refused the request ({status}{code}).")


def _response_format(schema: dict, *, name: str) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: no JSON column could store them


def _json_answer(text: str, schema: dict, *, finish_reason: str | None) -> Any:
    cut = " (it was cut at the token limit)" if finish_reason == "length" else ""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise StepFailed(f"The model's answer is not JSON{cut}: {str(exc)[:MESSAGE_DETAIL_MAX]}.") from None
    validator = Draft202012Validator(schema, registry=Registry())  # an empty registry: no $ref is fetched
    try:
        error = best_match(validator.iter_errors(value))
    except Unresolvable as exc:
        raise StepFailed(
            f"`json_schema` refers to what it does not contain: {str(exc)[:MESSAGE_DETAIL_MAX]}."
        ) from None
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "its root"
        raise StepFailed(
            f"The model's answer does not fit `json_schema` at {where}: {error.message[:MESSAGE_DETAIL_MAX]}"
        )
    return value


def _messages(params: dict) -> tuple[list[ChatCompletionMessageParam], bool]:
    text, clipped = _clip(params["prompt"])
    messages: list[ChatCompletionMessageParam] = (
        [{"role": "system", "content": params["system"]}] if params.get("system") else []
    )
    messages.append({"role": "user", "content": text})
    return messages, clipped


def _completion_create(*, model: str, messages: list[ChatCompletionMessageParam], options: dict) -> ChatCompletion:
    client = openai.OpenAI(
        base_url=settings.AI_BASE_URL,
        api_key=settings.AI_API_KEY or API_KEY_PLACEHOLDER,
        timeout=settings.AI_TIMEOUT_SECONDS,
        max_retries=0,  # the engine retries, after its backoff, within the step's attempts
    )
    try:
        with client:
            return client.chat.completions.create(model=model, messages=messages, **options)
    except openai.OpenAIError as exc:
        raise _provider_error(exc, model=model) from None


def _usage(completion: ChatCompletion) -> dict:
    if completion.usage is None:
        return {}
    return {
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "total_tokens": completion.usage.total_tokens,
    }


@node_type(
    NODE_TYPE,
    properties={
        "prompt": TEMPLATED_STRING,
        "system": TEMPLATED_STRING,
        "model": {"type": "string", "maxLength": 200},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 100_000},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        # The answer must be JSON that fits this schema; it is parsed into the output's `json`.
        "json_schema": {"type": "object"},
    },
    required=("prompt",),
    params_check=_params_check,
)
def prompt(params: dict, context: StepContext) -> dict:
    model = params.get("model") or settings.AI_MODEL
    if not (settings.AI_BASE_URL and model):
        raise StepFailed("No AI provider is configured: set AI_BASE_URL, AI_API_KEY and AI_MODEL.")
    schema = params.get("json_schema")
    if schema is not None:
        try:
            json_schema_check(schema)  # again: its strings were rendered as templates
        except ParamsInvalid as exc:
            raise StepFailed(str(exc)) from None
    remaining = _run_tokens_remaining(context)
    messages, clipped = _messages(params)
    options: dict[str, Any] = {"temperature": params["temperature"]} if "temperature" in params else {}
    cap = _completion_cap(requested=params.get("max_tokens"), remaining=remaining)
    if cap is not None:
        options["max_tokens"] = cap
    if schema is not None:
        options["response_format"] = _response_format(schema, name=context.node_id)
    completion = _completion_create(model=model, messages=messages, options=options)
    if not completion.choices:
        raise StepFailed("The AI provider answered without a choice.")
    choice = completion.choices[0]
    usage = _usage(completion)
    _tokens_count(model, usage)
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise StepFailed(f"The model refused: {refusal[:MESSAGE_DETAIL_MAX]}")
    answer = choice.message.content or ""
    output = {
        "text": answer,
        "model": completion.model or model,
        "usage": usage,
        "prompt_clipped": clipped,
    }
    if schema is not None:
        output["json"] = _json_answer(answer, schema, finish_reason=choice.finish_reason)
    return output


# A workflow chooses its model: past this many names a process counts the rest as "other", so
# that no definition can grow the metric's label set without bound.
MODEL_LABELS_MAX = 20
_model_labels: set[str] = set()


def _tokens_count(model: str, usage: dict) -> None:
    if model not in _model_labels and len(_model_labels) < MODEL_LABELS_MAX:
        _model_labels.add(model)
    label = model if model in _model_labels else "other"
    for kind in ("prompt", "completion"):
        tokens = usage.get(f"{kind}_tokens")
        if isinstance(tokens, int) and tokens > 0:
            metrics.LLM_TOKENS.labels(model=label, kind=kind).inc(tokens)
