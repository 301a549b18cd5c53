"""A GitHub API stand-in served over real HTTP, for code running in another process (a Celery
worker) where `responses` cannot reach. Answers come from a route table, after any answers
queued for the route; a gate can hold a route's first request until the test releases it. Any
path may be served, an OpenAI-compatible `/v1/chat/completions` as well as GitHub's."""

import json
import threading
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GitHubServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, dict]] = {}
        self.queued: dict[tuple[str, str], list[tuple[int, dict]]] = {}
        self.calls: Counter = Counter()
        self.gated: set[tuple[str, str]] = set()
        self.held = threading.Event()  # a gated request is waiting
        self.gate = threading.Event()  # set: gated requests may go on
        self.delay_seconds = 0.0
        self.url = ""

    def route(self, method: str, path: str, body: dict, status: int = 200) -> None:
        self.routes[(method, path)] = (status, body)

    def route_first(self, method: str, path: str, *answers: tuple[int, dict]) -> None:
        """Answer the route's next requests with these (status, body), in order, then as routed."""
        self.queued[(method, path)] = list(answers)

    def answer(self, method: str, path: str) -> tuple[int, dict]:
        key = (method, path.split("?")[0])
        if key in self.gated and self.calls[key] == 0:
            self.held.set()
            self.gate.wait(timeout=60)
        self.calls[key] += 1
        if self.delay_seconds:
            threading.Event().wait(self.delay_seconds)
        if self.queued.get(key):
            return self.queued[key].pop(0)
        return self.routes.get(key, (404, {"message": "Not Found"}))


@contextmanager
def github_server():
    state = GitHubServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = state.answer(self.command, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.gate.set()
        server.shutdown()
        server.server_close()
