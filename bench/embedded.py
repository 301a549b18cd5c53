"""The embedded default beside PostgreSQL and Redis: prints figures, asserts nothing.

Each stack runs as `bin/run` starts it, honcho with the Procfile (gunicorn, a Celery worker and
beat) in a temporary folder, with GitHub and the LLM served by the GitHub double, which answers
at once:

1. A burst: GitHub's 329 example deliveries (`../shared/github-webhook-examples`, else the test
   fixtures over again up to 329), signed and posted by 16 clients at once; how long after the
   last intake answer, and after the first request, the first processing attempt of every one
   of them was over.
2. Delivery to comment: 30 pull requests opened one after another, each on its own installation,
   through the review workflow (get pull request, ai.prompt, create comment): from posting the
   delivery to the comment reaching the double.

The embedded stack runs a copy of the code without DATABASE_URL and REDIS_URL, so that its SQLite
database, filesystem broker and file cache are under the copy's var/. The server stack uses
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/aiworkflow_bench_embedded, recreated)
and REDIS_URL (default redis://127.0.0.1:6379/15, queue aiworkflow-bench-embedded).

    .venv/bin/python bench/embedded.py          # BENCH_ONLY=embedded (or server) runs one stack
"""

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aiworkflow_bench_embedded")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

from bench.common import DATABASE_URL, REDIS_URL, ROOT, SECRET, Reference, database_prepare, figure_record  # noqa: E402
from bench.intake import post  # noqa: E402
from bench.workflow_runs import REPO, REVIEW, connect, environment, github_double  # noqa: E402
from github_app.webhooks.signatures import signature_for  # noqa: E402
from tests.github_double import GitHub, Request, served  # noqa: E402
from tests.ports import accepts, free_port  # noqa: E402

QUEUE = "aiworkflow-bench-embedded"
EXAMPLES = ROOT.parent / "shared" / "github-webhook-examples"
FIXTURES = ROOT / "tests" / "fixtures" / "github"
BURST = 329
CLIENTS = 16
REVIEWS = 30
REVIEW_INSTALLATIONS = [20_000 + number for number in range(REVIEWS)]
START_SECONDS = 60
DRAIN_SECONDS = 120
COMMENT_SECONDS = 15
TARGET_DRAIN_SECONDS = 10
TARGET_COMMENT_SECONDS = 1
STOP_SECONDS = 20
METRICS_SHOWN = (
    "github_webhook_received_total",
    "github_webhook_processed_total",
    "github_webhook_failed_total",
    "github_webhook_intake_seconds_count",
    "github_webhook_processing_lag_seconds_count",
    "github_webhook_processing_lag_seconds_sum",
    "github_api_requests_total",
    "github_api_rate_limit_remaining",
    "github_token_refresh_total",
    "github_installations_active",
    "github_webhook_backlog",
    "workflow_triggers_executed_total",
    "workflow_runs_total",
    "workflow_run_duration_seconds_count",
    "workflow_llm_tokens_total",
    "aiworkflow_database_up",
)


@dataclass
class Stack:
    name: str
    env: dict
    database_url: str
    root: Path  # where the Procfile's processes run: beat keeps its schedule in its var/


def event_of(example: Path) -> str:
    """`<event>__<action>[_N].json`, or `<event>[_N].json` for events without actions."""
    return re.sub(r"_\d+$", "", example.stem.partition("__")[0])


def burst_deliveries() -> list[tuple[str, bytes]]:
    folder = EXAMPLES if EXAMPLES.is_dir() else FIXTURES
    examples = itertools.islice(itertools.cycle(sorted(folder.glob("*.json"))), BURST)
    return [(event_of(example), example.read_bytes()) for example in examples]


def review_delivery(installation_id: int) -> bytes:
    """A human opening pull request 1 of REPO (the one the double serves), not a draft."""
    payload = json.loads((FIXTURES / "pull_request__opened.json").read_bytes())
    payload["number"] = 1
    payload["installation"] = {"id": installation_id}
    payload["repository"] = {**payload["repository"], "id": installation_id, "full_name": REPO}
    payload["pull_request"] = {**payload["pull_request"], "number": 1, "draft": False}
    payload["sender"] = {**payload["sender"], "login": "octocat", "type": "User"}
    return json.dumps(payload).encode()


def review_seed() -> None:
    """A user reaching REPO in every review installation, with the review workflow on its pull requests."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from integrations.models import OAuthToken
    from triggers.services import workflow_save

    user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
    connect(user, REVIEW_INSTALLATIONS)
    # Read just now, so beat's access sync leaves these token-less connections alone during the run.
    OAuthToken.objects.filter(user=user).update(synced_at=timezone.now())
    workflow_save(
        owner=user, name="AI review", definition=REVIEW, triggers=[{"repository": REPO, "events": ["pull_request"]}]
    )


def seeded(stack: Stack, code: Path) -> Stack:
    """The stack's database with review_seed() run in it, by the code at `code`."""
    seed = "from bench.embedded import review_seed; review_seed()"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", seed], cwd=code, env=stack.env, check=True
    )
    return stack


def embedded_stack(base: dict, folder: Path) -> Stack:
    """The embedded default in a copy of the code, so that all it keeps under var/ (database,
    broker, cache, beat's schedule) is the copy's: nothing is shared with the checkout's var/."""
    # The tests stay behind, but not the GitHub double: the seed imports this module, which imports it.
    shutil.copytree(
        ROOT, folder, ignore=shutil.ignore_patterns(".*", "__pycache__", "var", "test_*", "conftest.py", "fixtures")
    )
    (folder / "var" / "static").mkdir(parents=True)
    env = {name: value for name, value in base.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(folder)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=folder, env=env, check=True)
    return seeded(
        Stack("embedded: SQLite + filesystem broker", env, str(folder / "var" / "db.sqlite3"), folder), folder
    )


def server_stack(base: dict, folder: Path) -> Stack:
    (folder / "var" / "metrics").mkdir(parents=True)
    database_prepare()
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)
    env = {**base, "PROMETHEUS_MULTIPROC_DIR": str(folder / "var" / "metrics")}
    return seeded(Stack(f"PostgreSQL ({DATABASE_URL.rsplit('/', 1)[1]}) + Redis", env, DATABASE_URL, folder), ROOT)


def unfinished(stack: Stack) -> int:
    """Deliveries whose first processing attempt is not over (ignored ones are done at intake)."""
    sql = (
        "SELECT count(*) FROM github_app_webhookdelivery WHERE status <> 'ignored'"
        " AND (attempts = 0 OR (attempts = 1 AND status = 'processing'))"
    )
    return query(stack, sql)[0][0]


def outcomes(stack: Stack) -> dict[str, int]:
    return dict(query(stack, "SELECT status, count(*) FROM github_app_webhookdelivery GROUP BY status ORDER BY status"))


def query(stack: Stack, sql: str) -> list[tuple]:
    if stack.database_url.startswith("postgres"):
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()
    with sqlite3.connect(stack.database_url, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def process_tree(pid: int) -> list[int]:
    tree, frontier = [], [pid]
    while frontier:
        children = [child for parent in frontier for child in direct_children(parent)]
        tree.extend(children)
        frontier = children
    return tree


def direct_children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextmanager
def running(stack: Stack, log: Path):
    """The Procfile's processes under honcho, as `bin/run` starts them; yields the web port."""
    port = free_port()
    env = {**stack.env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [
        sys.executable,
        "-m",
        "honcho",
        "--no-colour",
        "--procfile",
        str(ROOT / "Procfile"),
        "start",
        "--port",
        str(port),
    ]
    with log.open("w") as output:
        honcho = subprocess.Popen(
            command, cwd=stack.root, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        if not wait_for(lambda: accepts(port) and " ready." in log.read_text(), START_SECONDS):
            raise RuntimeError(f"{stack.name} did not start:\n{log.read_text()[-3000:]}")
        yield port
    finally:
        stop(honcho)


def stop(honcho: subprocess.Popen) -> None:
    """honcho stops its processes (SIGKILL past its own 5 s); anything left after that is killed here."""
    started = process_tree(honcho.pid)
    honcho.send_signal(signal.SIGTERM)
    try:
        honcho.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        honcho.kill()
        honcho.wait()
    for pid in started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(condition, seconds: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


async def send_burst(port: int, deliveries: list[tuple[str, bytes]]) -> tuple[float, float, list[int]]:
    """Every delivery once, CLIENTS at a time; returns when the first was sent, when the last
    answer came, and the statuses."""
    waiting, statuses = list(reversed(deliveries)), []

    async def client() -> None:
        while waiting:
            event, body = waiting.pop()
            statuses.append(await post(port, "/webhooks/github", body, signature_for(body=body, secret=SECRET), event))

    first = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return first, time.perf_counter(), statuses


def measure_burst(stack: Stack, port: int, log: Path) -> dict:
    first, last, statuses = asyncio.run(send_burst(port, burst_deliveries()))
    drained = wait_for(lambda: unfinished(stack) == 0, DRAIN_SECONDS)
    done = time.perf_counter()
    return {
        "accepted": sum(status in (200, 202) for status in statuses),
        "intake_s": last - first,
        "after_last_s": done - last if drained else None,
        "total_s": done - first if drained else None,
        "outcomes": outcomes(stack),
        "claimed": query(stack, "SELECT count(*) FROM github_app_webhookdelivery WHERE attempts > 0")[0][0],
        "messages": len(re.findall(r"process_deliveries\[[^\]]+\] received", log.read_text())),
    }


def comments_posted(github: GitHub) -> list[Request]:
    return github.requests("POST", f"/repos/{REPO}/issues/1/comments")


def comment_after(github: GitHub, earlier: int) -> Request | None:
    """The first comment posted after the `earlier` ones, waited for up to COMMENT_SECONDS."""
    if wait_for(lambda: len(comments_posted(github)) > earlier, COMMENT_SECONDS):
        return comments_posted(github)[earlier]
    return None


def measure_reviews(port: int, github: GitHub) -> list[float]:
    """Seconds from posting each review's delivery to its comment reaching the double, one review
    at a time; the first without a comment within COMMENT_SECONDS ends the series."""
    latencies = []
    for installation_id in REVIEW_INSTALLATIONS:
        body = review_delivery(installation_id)
        earlier = len(comments_posted(github))  # a late comment of an earlier series counts among them
        sent = time.perf_counter()
        asyncio.run(post(port, "/webhooks/github", body, signature_for(body=body, secret=SECRET), "pull_request"))
        comment = comment_after(github, earlier)
        if comment is None:
            break
        latencies.append(comment.at - sent)
    return latencies


def metrics_excerpt(port: int) -> list[str]:
    """What /metrics says once the burst and the reviews are over: every process's figures merged."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith(METRICS_SHOWN)]


def measure(stack: Stack, github: GitHub, log: Path) -> dict:
    with running(stack, log) as port:
        burst = measure_burst(stack, port, log)
        reviews = measure_reviews(port, github)
        excerpt = metrics_excerpt(port)
    locked = log.read_text().lower().count("database is locked")
    return {**burst, "reviews": reviews, "locked": locked, "journal": journal_mode(stack), "metrics": excerpt}


def journal_mode(stack: Stack) -> str | None:
    return None if stack.database_url.startswith("postgres") else query(stack, "PRAGMA journal_mode")[0][0]


def report(stack: Stack, figures: dict) -> None:
    reviews = sorted(figures["reviews"])
    drain = f"not within {DRAIN_SECONDS} s"
    if figures["after_last_s"] is not None:
        drain = f"{figures['after_last_s']:.2f} s after the last intake, {figures['total_s']:.2f} s in all"
    print(f"{stack.name}")
    print(
        f"  burst: {figures['accepted']}/{BURST} accepted in {figures['intake_s']:.2f} s; every first attempt over: {drain}"
    )
    print(
        f"         outcomes {figures['outcomes']}; {figures['claimed']} went to the worker, in {figures['messages']} messages"
    )
    if reviews:
        p90 = reviews[min(len(reviews) - 1, int(len(reviews) * 0.9))]
        print(
            f"  delivery to comment: p50 {statistics.median(reviews):.3f} s, p90 {p90:.3f} s ({len(reviews)}/{REVIEWS} commented)"
        )
    else:
        print(f"  delivery to comment: no comment (0/{REVIEWS})")
    journal = f"; SQLite journal mode {figures['journal']}" if figures["journal"] else ""
    print(f'  "database is locked" in the process logs: {figures["locked"]}{journal}')
    print("  /metrics, from the web and worker processes:")
    for line in figures["metrics"]:
        print(f"    {line}")


def record(stack: str, figures: dict) -> None:
    """The headline figures of one stack; a figure cut off by its wait is recorded as that wait, at least."""
    shown = {"embedded": "SQLite + filesystem broker", "server": "PostgreSQL + Redis"}[stack]
    drained = figures["after_last_s"] is not None
    figure_record(
        name=f"burst of {BURST}: every first attempt over, after the last intake, {shown}",
        value=figures["after_last_s"] if drained else DRAIN_SECONDS,
        unit="s",
        at_least=not drained,
        reference=Reference("target", "at most", TARGET_DRAIN_SECONDS),
    )
    reviews = figures["reviews"]
    complete = len(reviews) == REVIEWS
    figure_record(
        name=f"delivery to comment p50, {shown}" + ("" if complete else f" ({len(reviews)}/{REVIEWS} commented)"),
        value=statistics.median(reviews) if complete else COMMENT_SECONDS,
        unit="s",
        at_least=not complete,
        reference=Reference("target", "at most", TARGET_COMMENT_SECONDS),
    )


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so that every process started is stopped
    with served(github_double(REVIEW_INSTALLATIONS)) as server:
        measure_stacks(server.url, server.github)


def measure_stacks(api_url: str, github: GitHub) -> None:
    base = {
        **environment(api_url),
        "DJANGO_SETTINGS_MODULE": "aiworkflow.settings",
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "LOG_FORMAT": "text",
    }
    only = os.environ.get("BENCH_ONLY")  # "embedded" or "server", to iterate on one stack
    print(f"{os.cpu_count()} cores; the Procfile's processes:\n{(ROOT / 'Procfile').read_text()}")
    try:
        with tempfile.TemporaryDirectory(prefix="aiworkflow-embedded-") as temporary:
            for name in ("embedded", "server"):
                if only in (None, name):
                    folder = Path(temporary) / name
                    stack = embedded_stack(base, folder) if name == "embedded" else server_stack(base, folder)
                    figures = measure(stack, github, Path(temporary) / f"{name}.log")
                    report(stack, figures)
                    record(name, figures)
    finally:
        redis.Redis.from_url(REDIS_URL).delete(QUEUE)


if __name__ == "__main__":
    main()
