"""The double over real HTTP on the loopback, for code in other processes (Celery workers, the
benchmarks' stacks): GitHub's API and web flow at the root, the LLM under /v1. A request whose
fault is an error is answered by closing the connection."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.github_double.chat import Chat
from tests.github_double.double import Double
from tests.github_double.exchange import Answer, Request, Service, message_answer
from tests.github_double.github import GitHub

LLM_PREFIX = "/v1"


@dataclass
class Served:
    url: str
    double: Double

    @property
    def github(self) -> GitHub:
        return self.double.github

    @property
    def llm(self) -> Chat:
        return self.double.llm


def handler_for(serving: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = self._answer(body)
            if answer.error is not None:
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in {**answer.headers, "Content-Length": str(len(answer.body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def _answer(self, body: bytes) -> Answer:
            parts = urlsplit(self.path)
            service: Service = serving.github
            base, path = serving.url, parts.path
            if path.startswith(f"{LLM_PREFIX}/"):
                service = serving.llm
                base, path = serving.url + LLM_PREFIX, path.removeprefix(LLM_PREFIX)
            request = Request(
                method=self.command,
                url=serving.url + self.path,
                base=base,
                path=path,
                query=dict(parse_qsl(parts.query)),
                headers=CaseInsensitiveDict(dict(self.headers.items())),
                body=body,
            )
            try:
                return service.respond(request)
            except Exception as exc:  # a fault of the model itself: say so to the client, keep serving
                return message_answer(500, f"The double failed: {exc!r}")

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def served(double: Double | None = None) -> Iterator[Served]:
    """`double` (a new one by default) on 127.0.0.1, at an ephemeral port, while in the block."""
    serving = Served("", double or Double())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(serving))
    server.daemon_threads = True
    serving.url = f"http://127.0.0.1:{server.server_address[1]}"
    # Polled often, so that shutting down (at the end of every test that uses the LLM) is quick.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield serving
    finally:
        serving.github.release_all()
        serving.llm.release_all()
        server.shutdown()
        server.server_close()
