"""A stand-in for GitHub's REST API (one pull request, with ETags) and an OpenAI-compatible
LLM, served over HTTP on the loopback for the benchmarks, counting what it is asked."""

import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import ROOT

REPO = "octo/widgets"
USABLE_SECONDS = 4  # how long a minted token stays usable here; GitHub's: 60 minutes - 5


class StandIn:
    """GitHub's REST API for one pull request, with ETags, counting what it is asked."""

    def __init__(self, *, files: int) -> None:
        self.requests: Counter = Counter()
        self.lock = threading.Lock()
        fixture = json.loads((ROOT / "tests/fixtures/github/pull_request__opened.json").read_text())
        pull_request = {**fixture["pull_request"], "changed_files": files}
        changed = [{"filename": f"src/file_{n}.py", "status": "modified", "patch": f"@@ -1 +1 @@\n-a{n}\n+b{n}"} for n in range(files)]
        self.resources = {
            f"/repos/{REPO}/pulls/1": pull_request,
            f"/repos/{REPO}/issues/1/comments": [{"id": 1, "body": "Looks good"}],
            f"/repos/{REPO}/pulls/1/comments": [{"id": 2, "body": "nit"}],
            f"/repos/{REPO}": fixture["repository"],
        }
        for page in range(1, files // 100 + 2):
            self.resources[f"/repos/{REPO}/pulls/1/files?page={page}"] = changed[(page - 1) * 100 : page * 100]

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def answer(self, method: str, path: str, headers) -> tuple[int, dict, bytes]:
        route, _, query = path.partition("?")
        if method == "POST" and route.endswith("/chat/completions"):
            self.count("llm")
            answer = {"model": "stand-in", "choices": [{"message": {"role": "assistant", "content": "Looks good."}}], "usage": {}}
            return 200, {}, json.dumps(answer).encode()
        if method == "POST" and route.endswith("/comments"):
            self.count("write")
            return 201, {}, json.dumps({"id": 1, "html_url": "https://github.com/c/1", "body": "x"}).encode()
        if method == "POST" and route.endswith("/access_tokens"):
            self.count("mint")
            expires = datetime.now(timezone.utc) + timedelta(seconds=300 + USABLE_SECONDS)
            return 201, {}, json.dumps({"token": f"ghs_{time.time_ns()}", "expires_at": expires.isoformat()}).encode()
        page = dict(pair.split("=") for pair in query.split("&") if "=" in pair).get("page")
        key = f"{route}?page={page}" if route.endswith("/files") else route
        resource = self.resources.get(key)
        if resource is None:
            return 404, {}, b'{"message": "Not Found"}'
        diff = headers.get("Accept") == "application/vnd.github.diff"
        body = "diff --git a/x b/x\n".encode() if diff else json.dumps(resource).encode()
        etag = f'"{hash((key, diff)) & 0xFFFFFFFF:x}"'
        if headers.get("If-None-Match") == etag:
            self.count("304")
            return 304, {"ETag": etag}, b""
        self.count("200")
        return 200, {"ETag": etag, "X-RateLimit-Remaining": "4999", "X-RateLimit-Limit": "5000"}, body


def serve(stand_in: StandIn) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = stand_in.answer(self.command, self.path, self.headers)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


