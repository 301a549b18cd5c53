"""bin/bench: runs the benchmarks, keeps their headline figures in bench/figures.json and renders
that whole file as the figures table at the top of the README's Benchmarks section.

Each benchmark runs in its own process with its output streamed as it comes; it records its
headline figures through `bench.common.figure_record` into a file named by FIGURES_FILE_VARIABLE.
A benchmark that fails (or records nothing) is stored as failed with whatever it recorded, so the
table says so while every other benchmark keeps its figures. The figures and the README are
written after each benchmark: an interrupted run keeps what it finished.

    bin/bench                        # every benchmark
    bin/bench patterns github_context
"""

import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from bench.common import DATABASE_URL, FIGURES_FILE_VARIABLE, REDIS_URL, ROOT

BENCH_FOLDER = ROOT / "bench"
FIGURES_PATH = BENCH_FOLDER / "figures.json"
README_PATH = ROOT / "README.md"
# Modules of bench/ that are not benchmarks: everything else there is one.
SUPPORT_MODULES = {"__init__", "common", "floor", "settings", "run_all"}
START_MARKER = "<!-- bench-figures:start -->"
END_MARKER = "<!-- bench-figures:end -->"


def bench_names(*, folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.py") if path.stem not in SUPPORT_MODULES)


def bench_run(*, name: str, folder: Path, machine: str, day: str) -> dict:
    """Runs one benchmark to its end and returns its entry for the figures file."""
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as temporary:
        recorded = Path(temporary) / "figures.jsonl"
        recorded.touch()
        env = {**os.environ, FIGURES_FILE_VARIABLE: str(recorded)}
        status = subprocess.run([sys.executable, str(folder / f"{name}.py")], cwd=ROOT, env=env).returncode
        figures = [json.loads(line) for line in recorded.read_text().splitlines() if line.strip()]
    entry: dict = {"measured_at": day, "machine": machine, "figures": figures}
    if status < 0:
        entry["failed"] = f"killed by signal {-status}"
    elif status > 0:
        entry["failed"] = f"exit status {status}"
    elif not figures:
        entry["failed"] = "recorded no figures"
    return entry


def figures_load(*, path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def figures_merge(*, stored: dict[str, dict], measured: dict[str, dict]) -> dict[str, dict]:
    """The stored entries with the measured benchmarks' replaced whole: a figure a benchmark no
    longer records does not linger."""
    return dict(sorted({**stored, **measured}.items()))


def figures_save(*, path: Path, figures: dict[str, dict]) -> None:
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


def number_format(value: float) -> str:
    """Three significant digits, never in exponent form, without trailing zeros."""
    if value == 0:
        return "0"
    shown = f"{value:,.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"
    return shown.rstrip("0").rstrip(".") if "." in shown else shown


def quantity_format(*, value: float, unit: str, at_least: bool) -> str:
    number = number_format(value) + (unit if unit in ("", "x") else f" {unit}")
    return f"> {number}" if at_least else number


def ratio_format(figure: dict) -> str:
    """The figure over its reference; a bound on either side makes the ratio a bound too."""
    reference = figure.get("reference")
    if not reference or reference["value"] == 0:
        return ""
    above, below = figure.get("at_least", False), reference.get("at_least", False)
    if above and below:
        return ""
    ratio = number_format(figure["value"] / reference["value"]) + "x"
    return f"> {ratio}" if above else f"< {ratio}" if below else ratio


def figure_cells(figure: dict) -> list[str]:
    """figure, value, against, its value, ratio."""
    value = quantity_format(value=figure["value"], unit=figure["unit"], at_least=figure.get("at_least", False))
    reference = figure.get("reference")
    if not reference:
        return [figure["name"], value, "", "", ""]
    its_value = quantity_format(
        value=reference["value"], unit=figure["unit"], at_least=reference.get("at_least", False)
    )
    return [figure["name"], value, f"{reference['kind']}: {reference['label']}", its_value, ratio_format(figure)]


def table_render(*, figures: dict[str, dict]) -> str:
    """Where the figures were measured, then a row a figure (a failed benchmark's first row says
    so). Runs on different machines or days are lettered, and each row names its own."""
    runs: dict[tuple[str, str], list[str]] = {}
    for name, entry in figures.items():
        runs.setdefault((entry["machine"], entry["measured_at"]), []).append(name)
    letters = {run: chr(ord("A") + number) for number, run in enumerate(runs)}
    several = len(runs) > 1
    speeds = {run: _speed_note(figures, names) for run, names in runs.items()}
    if several:
        lines = ["Measured on:", ""]
        lines += [
            f"- {letters[run]}: {run[0]}{speeds[run]}; {run[1]} ({', '.join(names)})" for run, names in runs.items()
        ]
    else:
        lines = [f"Measured on: {run[0]}{speeds[run]}; {run[1]}." for run in runs]
    columns = ["benchmark", "figure", "value", "against", "its value", "ratio"] + (["on"] if several else [])
    lines += [
        "",
        "| " + " | ".join(columns) + " |",
        "| --- | --- | ---: | --- | ---: | ---: |" + (" --- |" if several else ""),
    ]
    for name, entry in figures.items():
        rows = [figure_cells(figure) for figure in entry["figures"]]
        if "failed" in entry:
            rows.insert(0, [f"**failed**: {entry['failed']}", "", "", "", ""])
        on = [letters[(entry["machine"], entry["measured_at"])]] if several else []
        lines += ["| " + " | ".join(text.replace("|", "\\|") for text in [name, *row, *on]) + " |" for row in rows]
    return "\n".join(lines)


def _speed_note(figures: dict[str, dict], names: list[str]) -> str:
    timings = sorted({figures[name]["python_loop"] for name in names if figures[name].get("python_loop")})
    return f"; a Python loop of 10M additions took {' to '.join(timings)}" if timings else ""


def readme_replace(*, text: str, table: str) -> str:
    """The text with what lies between the markers replaced by the table; the rest untouched."""
    pattern = re.compile(re.escape(START_MARKER) + r".*?" + re.escape(END_MARKER), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"README.md needs exactly one {START_MARKER} ... {END_MARKER} section")
    return pattern.sub(lambda _: f"{START_MARKER}\n{table}\n{END_MARKER}", text)


def _file_field(path: Path, prefix: str) -> str | None:
    """What follows `prefix` on the first line of the file that starts with it."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return next((line.split(prefix, 1)[1].strip().strip('"') for line in lines if line.startswith(prefix)), None)


def _postgresql_version() -> str:
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    try:
        with psycopg.connect(DATABASE_URL.replace(f"/{name}", "/postgres", 1), connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "not reached"
    return str(row[0]).split()[0] if row else "unknown"


def _redis_version() -> str:
    try:
        return str(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).info("server")["redis_version"])
    except redis.RedisError:
        return "not reached"


def python_loop_seconds() -> str:
    """One number to compare machines by: the best of 3 timings of a pure-Python loop of 10
    million additions (CPython 3.11 on a current desktop core: about 0.4 s)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(10_000_000):
            total += number
        timings.append(time.perf_counter() - started)
    return f"{min(timings):.2f} s"


def machine_describe() -> str:
    cpu = _file_field(Path("/proc/cpuinfo"), "model name\t:") or platform.processor() or "unknown CPU"
    memory_kib = _file_field(Path("/proc/meminfo"), "MemTotal:")
    memory = f"{int(memory_kib.split()[0]) / 1024**2:.1f} GiB memory" if memory_kib else "memory unknown"
    system = _file_field(Path("/etc/os-release"), "PRETTY_NAME=") or platform.system()
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}, {system}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {_postgresql_version()}, Redis {_redis_version()}"
    )


def benches_run(
    *,
    names: list[str],
    folder: Path,
    figures_path: Path,
    readme_path: Path,
    machine: str,
    day: str,
    python_loop: str | None = None,
) -> bool:
    """Runs each benchmark and writes the figures and the README after each; True if all succeeded."""
    succeeded = True
    for name in names:
        print(f"== bench/{name}.py", flush=True)
        entry = bench_run(name=name, folder=folder, machine=machine, day=day)
        if python_loop:
            # Apart from the machine's description: it varies a little from one run to the next.
            entry["python_loop"] = python_loop
        if "failed" in entry:
            succeeded = False
            print(f"== bench/{name}.py failed: {entry['failed']}", flush=True)
        figures = figures_merge(stored=figures_load(path=figures_path), measured={name: entry})
        figures_save(path=figures_path, figures=figures)
        readme_path.write_text(readme_replace(text=readme_path.read_text(), table=table_render(figures=figures)))
    return succeeded


def main(arguments: list[str]) -> int:
    known = bench_names(folder=BENCH_FOLDER)
    unknown = [name for name in arguments if name not in known]
    if unknown:
        print(f"no benchmark named {', '.join(unknown)}; there are: {', '.join(known)}", file=sys.stderr)
        return 2
    succeeded = benches_run(
        names=arguments or known,
        folder=BENCH_FOLDER,
        figures_path=FIGURES_PATH,
        readme_path=README_PATH,
        machine=machine_describe(),
        day=datetime.datetime.now(datetime.UTC).date().isoformat(),
        python_loop=python_loop_seconds(),
    )
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
