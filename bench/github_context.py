"""GitHub API benchmark: prints figures, asserts nothing.

1. GitHub requests for one pull-request context, cold and then warm (the same run re-reading an
   unchanged pull request of 250 files): a 304 costs no primary rate-limit point.
2. Installation-token mints across 4 worker processes sharing the token store, with tokens that
   GitHub would keep valid for an hour compressed to a few seconds: the target is one mint per
   token lifetime (less the 5 minutes of validity a token must keep), across all processes.

The GitHub double serves GitHub's API over HTTP with ETags. Needs PostgreSQL and Redis (the
defaults of bench/common.py); both token stores are measured.

    .venv/bin/python bench/github_context.py
"""

import math
import multiprocessing
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.common import REDIS_URL, Reference, database_prepare, figure_record, service_env  # noqa: E402
from tests.github_double import Double, GitHub, served, source_files  # noqa: E402

REPO = "octo/widgets"
INSTALLATION = 4242
FILES = 250
USABLE_SECONDS = 4  # how long a minted token stays usable here; GitHub's: 60 minutes - 5
TOKEN_MIN_VALIDITY_SECONDS = 300  # the token store hands a token out only with this much left
MINT_SECONDS = 24
PROCESSES = 4


def django_setup(api_url: str, redis_url: str) -> None:
    os.environ.update(service_env())
    os.environ.update({"GITHUB_API_BASE_URL": api_url, "REDIS_URL": redis_url, "GITHUB_APP_ID": "1"})
    import django

    django.setup()


def mint_worker(api_url: str, redis_url: str, seconds: float, spans) -> None:
    """Calls GitHub through the shared token store for `seconds`, then reports when it started
    and stopped (wall clock, shared by the processes)."""
    django_setup(api_url, redis_url)
    from github_app.api.installation_client import installation_call

    started = time.time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        installation_call(INSTALLATION, lambda github: github.requester.requestJsonAndCheck("GET", f"/repos/{REPO}"))
        time.sleep(0.01)
    spans.put((started, time.time()))


def github_double() -> Double:
    """GitHub with pull request 1 of REPO, of FILES files, reached through INSTALLATION."""
    double = Double()
    repository = double.github.repository(REPO)
    installation = double.github.installation(INSTALLATION, repositories=[repository])
    installation.token_lifetime = TOKEN_MIN_VALIDITY_SECONDS + USABLE_SECONDS
    installation.rate_limit.limit = 10**9  # what is measured is mints, not GitHub's hourly quota
    pull_request = repository.pull_request(1, files=source_files(FILES))
    pull_request.comment("Looks good")
    pull_request.review_comment("nit", path="src/file_0.py")
    return double


def measure_mints(api_url: str, github: GitHub, redis_url: str) -> tuple[int, int]:
    """Tokens minted, and the usable windows the processes' calls spanned together: each process
    starts calling once its own Django is up, so together they call for longer than each does."""
    minted = github.installations[INSTALLATION].tokens
    before = len(minted)
    context = multiprocessing.get_context("spawn")
    spans = context.Queue()
    workers = [
        context.Process(target=mint_worker, args=(api_url, redis_url, MINT_SECONDS, spans)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    reported = [spans.get() for _ in workers]
    for worker in workers:
        worker.join()
    first_call, last_call = min(start for start, _ in reported), max(end for _, end in reported)
    return len(minted) - before, math.ceil((last_call - first_call) / USABLE_SECONDS)


def main() -> None:
    database_prepare()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.environ["GITHUB_APP_PRIVATE_KEY"] = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    with served(github_double()) as server:
        measure(server.url, server.github)


def measure(api_url: str, github: GitHub) -> None:
    django_setup(api_url, REDIS_URL)
    from github_app.api.reads import ConditionalReads, pull_request_context

    # A namespace of its own: the ETags of an earlier run stay in the cache for a day, and would make
    # this run's cold read warm.
    reads = ConditionalReads(f"bench-run-{uuid.uuid4()}")
    for label in ("cold", "warm"):
        asked_before = github.count()
        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=1, reads=reads)
        answered = Counter(request.status for request in github.requests()[asked_before:])
        full, not_modified = answered[200], answered[304]
        print(
            f"pull-request context, {label}: {full + not_modified} requests ({full} answered in full, {not_modified} "
            f"not modified) = {full} primary rate-limit points; {len(context['files'])} files"
        )
        figure_record(
            name=f"rate-limit points of a {FILES}-file pull-request context, {label}",
            value=full,
            unit="points",
            reference=Reference("target", "at most", 0) if label == "warm" else None,
        )

    for store, redis_url in (("Redis", REDIS_URL), ("database", "")):
        mints, windows = measure_mints(api_url, github, redis_url)
        print(
            f"token mints, {store} store, {PROCESSES} processes for {MINT_SECONDS} s each with tokens usable "
            f"{USABLE_SECONDS} s: {mints} over the {windows} usable windows their calls spanned together "
            f"({mints / windows:.2f} a window, so {60 / 55 * mints / windows:.2f} an hour with GitHub's one-hour tokens)"
        )
        figure_record(
            name=f"token mints a usable window, {store} store, {PROCESSES} processes",
            value=mints / windows,
            unit="",
            reference=Reference("target", "one a token lifetime", 1),
        )


if __name__ == "__main__":
    main()
