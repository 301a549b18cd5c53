"""GitHub API benchmark: prints figures, asserts nothing.

1. GitHub requests for one pull-request context, cold and then warm (the same run re-reading an
   unchanged pull request of 250 files): a 304 costs no primary rate-limit point.
2. Installation-token mints across 4 worker processes sharing the token store, with tokens that
   GitHub would keep valid for an hour compressed to a few seconds: the target is one mint per
   token lifetime (less the 5 minutes of validity a token must keep), across all processes.

A local stand-in serves GitHub's API over HTTP with ETags. Needs PostgreSQL and Redis (the
defaults of bench/common.py); both token stores are measured.

    .venv/bin/python bench/github_context.py
"""

import json
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.common import REDIS_URL, ROOT, database_prepare, service_env  # noqa: E402

INSTALLATION = 4242
REPO = "octo/widgets"
FILES = 250
USABLE_SECONDS = 4  # how long a token stays usable here; GitHub's: 60 minutes - 5
MINT_SECONDS = 24
PROCESSES = 4


class StandIn:
    """GitHub's REST API for one pull request, with ETags, counting what it is asked."""

    def __init__(self) -> None:
        self.requests: Counter = Counter()
        self.lock = threading.Lock()
        fixture = json.loads((ROOT / "tests/fixtures/github/pull_request__opened.json").read_text())
        pull_request = {**fixture["pull_request"], "changed_files": FILES}
        files = [{"filename": f"src/file_{n}.py", "status": "modified", "patch": f"@@ -1 +1 @@\n-a{n}\n+b{n}"} for n in range(FILES)]
        self.resources = {
            f"/repos/{REPO}/pulls/1": pull_request,
            f"/repos/{REPO}/issues/1/comments": [{"id": 1, "body": "Looks good"}],
            f"/repos/{REPO}/pulls/1/comments": [{"id": 2, "body": "nit"}],
            f"/repos/{REPO}": fixture["repository"],
        }
        for page in range(1, FILES // 100 + 2):
            self.resources[f"/repos/{REPO}/pulls/1/files?page={page}"] = files[(page - 1) * 100 : page * 100]

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def answer(self, method: str, path: str, headers) -> tuple[int, dict, bytes]:
        route, _, query = path.partition("?")
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


def django_setup(api_url: str, redis_url: str) -> None:
    os.environ.update(service_env())
    os.environ.update({"GITHUB_API_BASE_URL": api_url, "REDIS_URL": redis_url, "GITHUB_APP_ID": "1"})
    import django

    django.setup()


def mint_worker(api_url: str, redis_url: str, seconds: float) -> None:
    django_setup(api_url, redis_url)
    from github_app.github_api import installation_call

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        installation_call(INSTALLATION, lambda github: github.requester.requestJsonAndCheck("GET", f"/repos/{REPO}"))
        time.sleep(0.01)


def measure_mints(api_url: str, stand_in: StandIn, redis_url: str) -> int:
    before = stand_in.requests["mint"]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=mint_worker, args=(api_url, redis_url, MINT_SECONDS)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return stand_in.requests["mint"] - before


def main() -> None:
    database_prepare()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.environ["GITHUB_APP_PRIVATE_KEY"] = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    stand_in = StandIn()
    server = serve(stand_in)
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    django_setup(api_url, REDIS_URL)
    from github_app.repository_context import ConditionalReads, pull_request_context

    reads = ConditionalReads("bench-run")
    for label in ("cold", "warm"):
        before = Counter(stand_in.requests)
        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=1, reads=reads)
        spent = stand_in.requests - before
        full, not_modified = spent["200"], spent["304"]
        print(
            f"pull-request context, {label}: {full + not_modified} requests ({full} answered in full, {not_modified} "
            f"not modified) = {full} primary rate-limit points; {len(context['files'])} files"
        )

    for store, redis_url in (("Redis", REDIS_URL), ("database", "")):
        mints = measure_mints(api_url, stand_in, redis_url)
        windows = MINT_SECONDS / USABLE_SECONDS
        print(
            f"token mints, {store} store, {PROCESSES} processes for {MINT_SECONDS} s with tokens usable {USABLE_SECONDS} s: "
            f"{mints} (one per {MINT_SECONDS / max(mints, 1):.1f} s; {mints / windows:.2f} a usable window, "
            f"so {60 / 55 * mints / windows:.2f} an hour with GitHub's one-hour tokens)"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
