"""An OpenAI-compatible `/chat/completions`, the LLM behind `ai.prompt`, served beside GitHub."""

from tests.github_double.exchange import Answer, Request, Service, json_answer, message_answer

DEFAULT_REPLY = (200, "Looks good.")


class Chat(Service):
    """Replies with the queued (status, text) answers in order, the last one again and again."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[tuple[int, str]] = [DEFAULT_REPLY]

    def answers(self, *answers: tuple[int, str]) -> None:
        with self.lock:
            self.queued = list(answers)

    def handle(self, request: Request) -> Answer:
        if (request.method, request.path) != ("POST", "/chat/completions"):
            return message_answer(404)
        status, text = self.queued.pop(0) if len(self.queued) > 1 else self.queued[0]
        if status != 200:
            return json_answer(status, {"error": {"message": "busy"}})
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return json_answer(
            200,
            {
                "model": request.json().get("model"),
                "choices": [choice],
                "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
            },
        )
