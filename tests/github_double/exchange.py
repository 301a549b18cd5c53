"""What both front ends hand a modelled service and get back, and what a test can make a service
do besides answering as its model says: fail, be slow, or hold a request until released."""

import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs

from requests.structures import CaseInsensitiveDict


@dataclass
class Request:
    method: str
    url: str
    base: str  # the service's root URL; `path` is what follows it
    path: str  # still percent-encoded, as sent
    query: dict[str, str]
    headers: CaseInsensitiveDict
    body: bytes
    at: float = field(default_factory=time.perf_counter)  # when the double received it
    status: int | None = None  # what it was answered; None: the connection was dropped

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    error: Exception | None = None  # raised at the client instead of an answer


def json_answer(status: int, data, headers: dict | None = None) -> Answer:
    return Answer(
        status, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def message_answer(status: int, message: str | None = None, headers: dict | None = None) -> Answer:
    return json_answer(status, {"message": message or HTTPStatus(status).phrase}, headers)


@dataclass(eq=False)
class Fault:
    """An answer given instead of the model's to requests of one route: `times` of them (None:
    until the service recovers). With `after_applying` the model handles the request first, as
    when GitHub stored a comment and the connection broke before its answer arrived."""

    method: str
    path: str
    answer: Answer
    query: dict[str, str] | None = None
    times: int | None = 1
    after_applying: bool = False
    hits: int = 0

    def matches(self, request: Request) -> bool:
        spent = self.times is not None and self.hits >= self.times
        wanted_query = all(request.query.get(name) == value for name, value in (self.query or {}).items())
        return not spent and (self.method, self.path) == (request.method, request.path) and wanted_query


@dataclass(eq=False)
class Gate:
    """Holds the first request of a route until released; `held` is set once one waits."""

    method: str
    path: str
    held: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    used: bool = False

    def release(self) -> None:
        self.released.set()


GATE_TIMEOUT_SECONDS = 60


class Service:
    """A modelled HTTP service: every request is logged, then answered by a matching fault or
    by `handle`, the model's own answer. Safe to call from the threads of the HTTP server."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.log: list[Request] = []
        self.faults: list[Fault] = []
        self.gates: list[Gate] = []
        self.delays: list[tuple[str | None, str | None, float]] = []

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    def fail(
        self,
        method: str,
        path: str,
        status: int = 502,
        *,
        json=None,
        body: str | None = None,
        headers: dict | None = None,
        error: Exception | None = None,
        query: dict[str, str] | None = None,
        times: int | None = 1,
        after_applying: bool = False,
    ) -> Fault:
        """Answer `method path` with `status` (and `json`, or a plain `body`), or with `error`."""
        if body is not None:
            answer = Answer(status, body.encode(), {"Content-Type": "text/html", **(headers or {})})
        elif json is not None:
            answer = json_answer(status, json, headers)
        else:
            answer = message_answer(status, headers=headers)
        answer.error = error
        fault = Fault(method, path, answer, query, times, after_applying)
        with self.lock:
            self.faults.append(fault)
        return fault

    def recover(self, fault: Fault | None = None) -> None:
        """Forget `fault`, or every fault: the model answers again."""
        with self.lock:
            self.faults = [kept for kept in self.faults if fault is not None and kept is not fault]

    def slow(self, seconds: float, method: str | None = None, path: str | None = None) -> None:
        """Answer every request (or those of one route) `seconds` late."""
        with self.lock:
            self.delays.append((method, path, seconds))

    def hold(self, method: str, path: str) -> Gate:
        gate = Gate(method, path)
        with self.lock:
            self.gates.append(gate)
        return gate

    def release_all(self) -> None:
        for gate in self.gates:
            gate.release()

    def forget_requests(self) -> None:
        """Start a new phase of a test: what was asked so far is no longer listed."""
        with self.lock:
            self.log.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                request for request in self.log if method in (None, request.method) and path in (None, request.path)
            ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return len(self.requests(method, path))

    def respond(self, request: Request) -> Answer:
        self._wait_at_gate(request)
        self._wait_delay(request)
        with self.lock:
            self.log.append(request)
            fault = next((fault for fault in self.faults if fault.matches(request)), None)
            if fault is None or fault.after_applying:
                answer = self.handle(request)
            if fault is not None:
                fault.hits += 1
                answer = fault.answer
            request.status = None if answer.error else answer.status
            return answer

    def _wait_at_gate(self, request: Request) -> None:
        with self.lock:
            gate = next(
                (
                    gate
                    for gate in self.gates
                    if not gate.used and (gate.method, gate.path) == (request.method, request.path)
                ),
                None,
            )
            if gate is not None:
                gate.used = True
        if gate is not None:
            gate.held.set()
            gate.released.wait(timeout=GATE_TIMEOUT_SECONDS)

    def _wait_delay(self, request: Request) -> None:
        with self.lock:
            seconds = sum(
                delay
                for method, path, delay in self.delays
                if method in (None, request.method) and path in (None, request.path)
            )
        if seconds:
            time.sleep(seconds)
