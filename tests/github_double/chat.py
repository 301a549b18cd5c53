"""An OpenAI-compatible `/chat/completions`, the LLM behind `ai.prompt`, served beside GitHub.

Answers are shaped as OpenAI's (https://platform.openai.com/docs/api-reference/chat/object), and
so are its errors: `{"error": {"message", "type", "param", "code"}}`. Faults of the transport (a
429 with `retry-after`, a dropped connection, a slow answer) come from `Service.fail`/`slow`."""

from tests.github_double.exchange import Answer, Request, Service, json_answer, message_answer

DEFAULT_REPLY = (200, "Looks good.")
DEFAULT_USAGE = (30, 12)  # prompt and completion tokens of every answer
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def error_answer(status: int, message: str = "busy", headers: dict | None = None) -> Answer:
    error_type, code = ERROR_TYPES.get(status, ("server_error", None))
    return json_answer(
        status, {"error": {"message": message, "type": error_type, "param": None, "code": code}}, headers
    )


class Chat(Service):
    """Replies with the queued (status, text) answers in order, the last one again and again.
    With `api_key` set, a request bearing another key is refused as OpenAI refuses it: with a
    401 that quotes the key it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[tuple[int, str]] = [DEFAULT_REPLY]
        self.usage: tuple[int, int] = DEFAULT_USAGE
        self.api_key: str | None = None

    def answers(self, *answers: tuple[int, str]) -> None:
        with self.lock:
            self.queued = list(answers)

    def handle(self, request: Request) -> Answer:
        if (request.method, request.path) != ("POST", "/chat/completions"):
            return message_answer(404)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and given != self.api_key:
            return error_answer(401, f"Incorrect API key provided: {given}.")
        status, text = self.queued.pop(0) if len(self.queued) > 1 else self.queued[0]
        if status != 200:
            return error_answer(status)
        sent = request.json()
        prompt_tokens, completion_tokens = self.usage
        cap = sent.get("max_tokens")
        cut = cap is not None and completion_tokens > cap
        if cut:
            completion_tokens = cap
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "finish_reason": "length" if cut else "stop",
        }
        return json_answer(
            200,
            {
                "id": f"chatcmpl-{len(self.log)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": sent.get("model"),
                "choices": [choice],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )
