"""Webhook intake benchmark: prints figures, asserts nothing.

POST /webhooks/github under gunicorn on PostgreSQL and Redis, side by side in the same run with
the durable floor (bench/floor.py: a bare WSGI app under the same gunicorn that verifies the
signature and stores the delivery with one INSERT): throughput with concurrent clients, in
BENCH_REPEATS runs of each alternating between the two, p50/p99 latency at a fixed 100 requests
per second, and a web worker's peak memory for a 25 MiB delivery.

    .venv/bin/python bench/intake.py

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/aiworkflow_bench, created if missing)
and REDIS_URL (default redis://127.0.0.1:6379/0) must point at running servers. The queue the
deliveries are enqueued on is dropped afterwards; no worker runs, since intake is what is measured.
BENCH_GUNICORN_WORKERS (default 2, as the Procfile runs it) sets both servers' workers.
"""

import asyncio
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import floor  # noqa: E402
from bench.common import (  # noqa: E402
    DATABASE_URL,
    QUEUE,
    REDIS_URL,
    ROOT,
    SECRET,
    Reference,
    database_prepare,
    figure_record,
    service_env,
)
from github_app.webhooks.signatures import signature_for  # noqa: E402
from tests.ports import free_port  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "github"
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
# The two servers share the cores with the load generator and the databases: runs of each, taken
# in turns, so that a passing load on the machine weighs on both sides alike.
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
RATE = 100
TARGET_RATIO = 0.7
TARGET_P99_MS = 50
TARGET_MEMORY_RATIO = 4

# Endpoint -> the WSGI application gunicorn serves it with; both take the same requests.
APPLICATIONS = {"intake": "aiworkflow.wsgi:application", "floor": "bench.floor:application"}
WEBHOOK_PATH = "/webhooks/github"
MIB = 1024 * 1024


def compact(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def push_of_size(size: int) -> bytes:
    """A real push payload grown with commits shaped like its own to about `size` bytes."""
    payload = json.loads((FIXTURES / "push_5.json").read_bytes())
    template = payload["commits"][0]
    commits, total, number = [], len(compact(payload)), 0
    while total < size:
        commit = copy.deepcopy(template)
        commit["id"] = f"{number:040x}"
        commit["modified"] = [f"src/package_{number}/module_{index}.py" for index in range(12)]
        commits.append(commit)
        total += len(compact(commit)) + 1
        number += 1
    payload["commits"] = commits
    return compact(payload)


@contextmanager
def gunicorn(application: str, workers: int):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        application,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-tmp-dir",
        "/dev/shm",
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=service_env())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)  # let every worker finish booting
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def post(port: int, path: str, body: bytes, signature: str, event: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-GitHub-Event: {event}\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-GitHub-Hook-ID: 1\r\nX-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head)
    writer.write(body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1])


async def closed_loop(port: int, body: bytes, event: str, seconds: float) -> dict:
    """CONCURRENCY clients, each sending its next request when the last is answered."""
    signature = signature_for(body=body, secret=SECRET)
    latencies, statuses = [], []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            statuses.append(await post(port, WEBHOOK_PATH, body, signature, event))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return summary(latencies, statuses, time.perf_counter() - started)


async def open_loop(port: int, body: bytes, event: str, seconds: float) -> dict:
    """RATE requests a second on a fixed schedule; latency counts from the scheduled time, so a
    slow answer cannot hide the requests queued behind it."""
    signature = signature_for(body=body, secret=SECRET)
    latencies, statuses = [], []
    start = time.perf_counter() + 0.1

    async def one(scheduled: float) -> None:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        statuses.append(await post(port, WEBHOOK_PATH, body, signature, event))
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(start + index / RATE) for index in range(int(RATE * seconds))))
    return summary(latencies, statuses, seconds)


def summary(latencies: list[float], statuses: list[int], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "errors": sum(status not in (200, 202) for status in statuses),
        "requests": len(statuses),
    }


TICKS = os.sysconf("SC_CLK_TCK")


BENCH_DATABASE = urlsplit(DATABASE_URL).path.lstrip("/")


def serves_another_database(process: Path) -> bool:
    """A PostgreSQL backend of some other client's database (its title names the client's
    address): the server is shared, and only the benchmark's backends and the server's own
    processes count."""
    try:
        title = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    return ("(" in title or "[local]" in title) and f" {BENCH_DATABASE} " not in title


def cpu_seconds_by_process(web_master: int) -> dict[int, tuple[str, float]]:
    """CPU time used so far by each web worker, PostgreSQL and Redis process, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        parent, used = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS
        role = (
            "web"
            if parent == web_master
            else "postgres"
            if command.startswith("postgres")
            else "redis"
            if command.startswith("redis-server")
            else None
        )
        if role == "postgres" and serves_another_database(stat.parent):
            continue
        if role:
            found[int(stat.parent.name)] = (role, used)
    return found


def cpu_ms_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    totals = {"web": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (role, used) in after.items():
        totals[role] += used - before.get(pid, (role, 0.0))[1]
    return {role: 1000 * seconds / requests for role, seconds in totals.items()}


def checkpoint() -> None:
    """Start each run from a clean slate: no checkpoint of the previous run's writes lands in it."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def throughput_run(master: subprocess.Popen, port: int, body: bytes, event: str) -> dict:
    checkpoint()
    before = cpu_seconds_by_process(master.pid)
    burst = asyncio.run(closed_loop(port, body, event, SECONDS))
    burst["cpu_ms"] = cpu_ms_per_request(before, cpu_seconds_by_process(master.pid), burst["requests"])
    return burst


def measure_throughput_and_latency(cases: dict[str, tuple[str, bytes]]) -> dict:
    """Per case and endpoint: the throughput runs, in the order taken, and one latency run."""
    results: dict[tuple[str, str, str], Any] = {}
    with ExitStack() as stack:
        servers = {endpoint: stack.enter_context(gunicorn(app, WORKERS)) for endpoint, app in APPLICATIONS.items()}
        for case, (event, body) in cases.items():
            for _, port in servers.values():
                asyncio.run(closed_loop(port, body, event, 1.5))  # warm-up
            runs: dict[str, list[dict]] = {endpoint: [] for endpoint in servers}
            for repeat in range(REPEATS):
                # Each side goes first every other time: neither always follows the other's writes.
                order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                for endpoint in order:
                    master, port = servers[endpoint]
                    runs[endpoint].append(throughput_run(master, port, body, event))
            for endpoint, (_, port) in servers.items():
                results[(case, endpoint, "throughput")] = runs[endpoint]
                checkpoint()
                results[(case, endpoint, "latency")] = asyncio.run(open_loop(port, body, event, SECONDS))
    return results


def median_of(runs: list[dict], field: str) -> float:
    return statistics.median(run[field] for run in runs)


def ratios(results: dict, case: str) -> list[float]:
    """intake/floor throughput of each pair of runs taken one after the other."""
    pairs = zip(results[(case, "intake", "throughput")], results[(case, "floor", "throughput")], strict=True)
    return [intake["rps"] / floor_run["rps"] for intake, floor_run in pairs]


def kilobytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def measure_memory(body: bytes) -> dict:
    """Peak resident memory a single web worker gains while taking one large delivery."""
    results = {}
    signature = signature_for(body=body, secret=SECRET)
    for endpoint, application in APPLICATIONS.items():
        with gunicorn(application, 1) as (master, port):
            worker = int(subprocess.check_output(["pgrep", "-P", str(master.pid)]).split()[0])
            small = push_of_size(20_000)
            for _ in range(5):
                asyncio.run(post(port, WEBHOOK_PATH, small, signature_for(body=small, secret=SECRET), "push"))
            resident_before = kilobytes(worker, "VmRSS")
            status = asyncio.run(post(port, WEBHOOK_PATH, body, signature, "push"))
            peak_after = kilobytes(worker, "VmHWM")
            results[endpoint] = {"status": status, "peak_growth_mib": max(0, peak_after - resident_before) / 1024}
    return results


def rows_in(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return row[0] if row else 0


def print_handoff() -> None:
    """How many broker messages carried the stored deliveries (the publisher batches them)."""
    with psycopg.connect(DATABASE_URL) as conn:
        stored, floor_stored = (rows_in(conn, table) for table in ("github_app_webhookdelivery", floor.TABLE))
    messages = redis.Redis.from_url(REDIS_URL).llen(QUEUE)
    print(
        f"hand-off: {stored} deliveries stored, {messages} broker messages ({stored / max(messages, 1):.1f} a message)"
    )
    print(f"floor: {floor_stored} deliveries stored in {floor.TABLE}")


def database_with_floor_table() -> None:
    database_prepare()
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        floor.table_create(conn)


def print_results(cases: dict, results: dict) -> None:
    print(f"throughput: median of {REPEATS} runs of each endpoint (slowest-fastest); latency at 100 req/s: one run")
    print(
        f"{'payload':<14}{'endpoint':<9}{'req/s':>7}{'(range)':>13}{'p50 ms':>9}{'p99 ms':>9}   "
        f"{'at 100 req/s: p50 ms':>21}{'p99 ms':>9}{'errors':>8}"
    )
    for case in cases:
        for endpoint in APPLICATIONS:
            runs, steady = results[(case, endpoint, "throughput")], results[(case, endpoint, "latency")]
            spread = f"{min(run['rps'] for run in runs):.0f}-{max(run['rps'] for run in runs):.0f}"
            errors = sum(run["errors"] for run in runs) + steady["errors"]
            print(
                f"{case:<14}{endpoint:<9}{median_of(runs, 'rps'):>7.0f}{spread:>13}{median_of(runs, 'p50_ms'):>9.1f}"
                f"{median_of(runs, 'p99_ms'):>9.1f}   {steady['p50_ms']:>21.1f}{steady['p99_ms']:>9.1f}{errors:>8}"
            )
    print()
    print("CPU per request during the throughput runs (median of the runs), ms:")
    for case in cases:
        for endpoint in APPLICATIONS:
            runs = results[(case, endpoint, "throughput")]
            cpu = {role: statistics.median(run["cpu_ms"][role] for run in runs) for role in runs[0]["cpu_ms"]}
            print(f"  {case:<14}{endpoint:<9}" + "".join(f"{role} {value:5.2f}   " for role, value in cpu.items()))
    print()
    for case in cases:
        each = ratios(results, case)
        p99 = results[(case, "intake", "latency")]["p99_ms"]
        print(
            f"{case}: intake/durable floor throughput with {WORKERS} gunicorn workers {statistics.median(each):.2f}x "
            f"(runs {min(each):.2f}x-{max(each):.2f}x; target >= {TARGET_RATIO}x); "
            f"p99 at 100 req/s {p99:.1f} ms (target <= {TARGET_P99_MS} ms)"
        )
        floor_rps = median_of(results[(case, "floor", "throughput")], "rps")
        figure_record(
            name=f"{case} throughput, {CONCURRENCY} clients",
            value=median_of(results[(case, "intake", "throughput")], "rps"),
            unit="req/s",
            reference=Reference("floor", f"bare WSGI app under the same gunicorn; target {TARGET_RATIO}x", floor_rps),
        )
        figure_record(
            name=f"{case} p99 at {RATE} req/s",
            value=p99,
            unit="ms",
            reference=Reference("target", "at most", TARGET_P99_MS),
        )


def main() -> None:
    database_with_floor_table()
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)
    cases = {
        "pull_request": ("pull_request", compact(json.loads((FIXTURES / "pull_request__opened.json").read_bytes()))),
        "push": ("push", push_of_size(MIB)),
    }
    print(
        f"gunicorn: {WORKERS} sync workers; {os.cpu_count()} cores; clients: {CONCURRENCY} concurrent, {SECONDS:.0f} s a run"
    )
    print(
        f"payloads: pull_request {len(cases['pull_request'][1]) / 1024:.1f} KiB, push {len(cases['push'][1]) / MIB:.2f} MiB"
    )
    only = os.environ.get("BENCH_ONLY")  # e.g. "pull_request", to iterate on one case
    if only:
        cases = {only: cases[only]}
    results = measure_throughput_and_latency(cases)
    print()
    print_results(cases, results)

    print_handoff()
    if only:
        return
    big = push_of_size(25 * MIB - 64 * 1024)
    memory = measure_memory(big)
    size_mib = len(big) / MIB
    for endpoint, figures in memory.items():
        print(
            f"{endpoint}: one {size_mib:.1f} MiB delivery (HTTP {figures['status']}) raised a web worker's peak memory by "
            f"{figures['peak_growth_mib']:.1f} MiB = {figures['peak_growth_mib'] / size_mib:.2f}x the payload"
            + (f" (target < {TARGET_MEMORY_RATIO}x)" if endpoint == "intake" else "")
        )
    figure_record(
        name=f"a web worker's peak memory raise for one {size_mib:.0f} MiB delivery, over its size",
        value=memory["intake"]["peak_growth_mib"] / size_mib,
        unit="x",
        reference=Reference("target", "under", TARGET_MEMORY_RATIO),
    )
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)


if __name__ == "__main__":
    main()
