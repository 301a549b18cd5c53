"""`ai.prompt`: an OpenAI-compatible `/chat/completions` call at AI_BASE_URL."""

import requests
from django.conf import settings

from aiworkflow import metrics
from workflows.nodes.base import TEMPLATED_STRING, StepContext, StepFailed, StepRetryLater, node_type


def _clip(prompt: str) -> tuple[str, bool]:
    limit = settings.AI_MAX_PROMPT_CHARS
    if len(prompt) <= limit:
        return prompt, False
    note = f"\n\n[The input was clipped to {limit} of its {len(prompt)} characters.]"
    return prompt[: limit - len(note)] + note, True


@node_type(
    "ai.prompt",
    properties={
        "prompt": TEMPLATED_STRING,
        "system": TEMPLATED_STRING,
        "model": {"type": "string", "maxLength": 200},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 100_000},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    },
    required=("prompt",),
)
def prompt(params: dict, context: StepContext) -> dict:
    model = params.get("model") or settings.AI_MODEL
    if not (settings.AI_BASE_URL and model):
        raise StepFailed("No AI provider is configured: set AI_BASE_URL, AI_API_KEY and AI_MODEL.")
    text, clipped = _clip(params["prompt"])
    messages = ([{"role": "system", "content": params["system"]}] if params.get("system") else []) + [
        {"role": "user", "content": text}
    ]
    body = {"model": model, "messages": messages}
    body.update({key: params[key] for key in ("max_tokens", "temperature") if key in params})
    headers = {"Authorization": f"Bearer {settings.AI_API_KEY}"} if settings.AI_API_KEY else {}
    try:
        response = requests.post(
            f"{settings.AI_BASE_URL}/chat/completions", json=body, headers=headers, timeout=settings.AI_TIMEOUT_SECONDS
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise StepRetryLater(f"The AI provider could not be reached: {type(exc).__name__}.") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise StepRetryLater(f"The AI provider answered {response.status_code}.")
    if response.status_code >= 400:
        raise StepFailed(f"The AI provider refused the request ({response.status_code}).")
    data = response.json()
    usage = data.get("usage", {})
    _tokens_count(model, usage)
    return {
        "text": data["choices"][0]["message"]["content"],
        "model": data.get("model", model),
        "usage": usage,
        "prompt_clipped": clipped,
    }


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
