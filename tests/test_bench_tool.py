"""bin/bench's own logic: figures recorded, merged, rendered and written into the README. No
benchmark runs here; the runner is given stand-in benchmarks of a few lines."""

import json
import textwrap
from pathlib import Path

import pytest

from bench import run_all
from bench.common import FIGURES_FILE_VARIABLE, Reference, figure_record

ROOT = Path(__file__).resolve().parent.parent
MACHINE = "Some CPU, 2 cores"
README = """# Project

## Benchmarks

Usage prose.

<!-- bench-figures:start -->
stale table
<!-- bench-figures:end -->

Explanation of each benchmark | with a pipe.
"""


def entry(*figures: dict, machine: str = MACHINE, day: str = "2026-12-01", failed: str | None = None) -> dict:
    stored = {"measured_at": day, "machine": machine, "figures": list(figures)}
    if failed:
        stored["failed"] = failed
    return stored


def figure(name: str, value: float, unit: str = "ms", **extra) -> dict:
    return {"name": name, "value": value, "unit": unit, **extra}


def table_rows(table: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| benchmark") and not line.startswith("| ---")
    ]


def test_a_benchmark_run_by_hand_records_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(FIGURES_FILE_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)

    figure_record(name="p50", value=1.0, unit="ms")

    assert list(tmp_path.iterdir()) == []


def test_figures_are_recorded_as_json_lines_with_their_reference(tmp_path, monkeypatch):
    recorded = tmp_path / "figures.jsonl"
    monkeypatch.setenv(FIGURES_FILE_VARIABLE, str(recorded))

    figure_record(name="p99", value=4.712345, unit="ms", reference=Reference("target", "at most", 50))
    figure_record(name="drain", value=120, unit="s", at_least=True)
    figure_record(name="p99", value=0.4, unit="ms", reference=Reference("peer", "re", 5000, at_least=True))

    assert [json.loads(line) for line in recorded.read_text().splitlines()] == [
        figure("p99", 4.712, reference={"kind": "target", "label": "at most", "value": 50}),
        figure("drain", 120, "s", at_least=True),
        figure("p99", 0.4, reference={"kind": "peer", "label": "re", "value": 5000, "at_least": True}),
    ]


def test_a_row_gives_the_figure_its_reference_and_their_ratio():
    figures = {
        "intake": entry(
            figure("throughput", 1285, "req/s", reference={"kind": "floor", "label": "bare app", "value": 1752}),
            figure("memory", 3.18, "x", reference={"kind": "target", "label": "under", "value": 4}),
            figure("queries", 19, "queries"),
            figure("mints a window", 1.33, "", reference={"kind": "target", "label": "one", "value": 1}),
        )
    }

    table = run_all.table_render(figures=figures)

    assert table.splitlines()[0] == f"Measured on: {MACHINE}; 2026-12-01."
    assert table_rows(table) == [
        ["intake", "throughput", "1,285 req/s", "floor: bare app", "1,752 req/s", "0.733x"],
        ["intake", "memory", "3.18x", "target: under", "4x", "0.795x"],
        ["intake", "queries", "19 queries", "", "", ""],
        ["intake", "mints a window", "1.33", "target: one", "1", "1.33x"],
    ]


def test_bounds_show_as_bounds_and_so_does_the_ratio():
    figures = {
        "patterns": entry(
            figure("worst p99", 0.5, reference={"kind": "peer", "label": "re", "value": 5000, "at_least": True}),
            figure("drain", 120, "s", at_least=True, reference={"kind": "target", "label": "at most", "value": 10}),
            figure(
                "both", 120, "s", at_least=True, reference={"kind": "peer", "label": "p", "value": 9, "at_least": True}
            ),
            figure("warm points", 0, "points", reference={"kind": "target", "label": "nothing", "value": 0}),
        )
    }

    rows = table_rows(run_all.table_render(figures=figures))

    assert rows[0][2:] == ["0.5 ms", "peer: re", "> 5,000 ms", "< 0.0001x"]
    assert rows[1][2:] == ["> 120 s", "target: at most", "10 s", "> 12x"]
    assert rows[2][-1] == ""  # two bounds give no ratio
    assert rows[3][2:] == ["0 points", "target: nothing", "0 points", ""]  # nothing to divide by


def test_figures_of_several_machines_or_days_name_theirs():
    figures = {
        "dashboard": entry(figure("median", 99.9), machine="2-core machine", day="2026-11-28"),
        "patterns": entry(figure("worst p99", 0.4)),
        "github_context": entry(figure("mints", 1, "mints")),
    }

    table = run_all.table_render(figures=figures)

    assert "- A: 2-core machine; 2026-11-28 (dashboard)" in table
    assert f"- B: {MACHINE}; 2026-12-01 (patterns, github_context)" in table
    assert [row[0] + " " + row[-1] for row in table_rows(table)] == ["dashboard A", "patterns B", "github_context B"]


def test_a_failed_benchmark_says_so_above_what_it_recorded():
    figures = {"embedded": entry(figure("burst", 0.2, "s"), failed="exit status 1")}

    assert table_rows(run_all.table_render(figures=figures)) == [
        ["embedded", "**failed**: exit status 1", "", "", "", ""],
        ["embedded", "burst", "0.2 s", "", "", ""],
    ]


def test_a_pipe_in_a_figure_cannot_break_the_table():
    table = run_all.table_render(figures={"patterns": entry(figure("`a|b` p99", 0.4))})

    assert "| patterns | `a\\|b` p99 | 0.4 ms |" in table


def test_the_readme_changes_between_its_markers_only():
    replaced = run_all.readme_replace(text=README, table="| new | table |")

    assert replaced == README.replace("stale table", "| new | table |")
    assert run_all.readme_replace(text=replaced, table="| new | table |") == replaced


@pytest.mark.parametrize(
    "text",
    [
        README.replace("<!-- bench-figures:end -->", ""),
        README + "<!-- bench-figures:start -->\n<!-- bench-figures:end -->\n",
    ],
    ids=["no end marker", "two tables"],
)
def test_a_readme_without_exactly_one_figures_table_is_refused(text):
    with pytest.raises(ValueError, match="exactly one"):
        run_all.readme_replace(text=text, table="| new | table |")


def test_a_subset_replaces_its_benchmarks_whole_and_keeps_the_others():
    stored = {
        "intake": entry(figure("throughput", 1285, "req/s"), day="2026-11-28"),
        "patterns": entry(figure("old figure", 1.0), figure("worst p99", 0.4), day="2026-11-28"),
    }

    merged = run_all.figures_merge(stored=stored, measured={"patterns": entry(figure("worst p99", 0.3))})

    assert merged == {"intake": stored["intake"], "patterns": entry(figure("worst p99", 0.3))}


def test_only_benchmarks_are_run_not_their_support_modules():
    assert run_all.bench_names(folder=ROOT / "bench") == [
        "dashboard",
        "embedded",
        "github_context",
        "intake",
        "patterns",
        "trigger_matching",
        "workflow_runs",
    ]


def test_an_unknown_benchmark_name_runs_nothing(capsys):
    assert run_all.main(["patterns", "nonexistent"]) == 2

    assert "no benchmark named nonexistent" in capsys.readouterr().err


STAND_IN = """
import sys
sys.path.insert(0, {root!r})
from bench.common import figure_record
{body}
"""


def stand_in(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(STAND_IN.format(root=str(ROOT), body=textwrap.dedent(body)))


def test_a_failing_benchmark_is_reported_and_the_others_keep_their_figures(tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    stand_in(folder, "quick", 'figure_record(name="p50", value=2.5, unit="ms")')
    stand_in(folder, "broken", 'figure_record(name="first", value=1, unit="s")\nraise SystemExit(3)')
    stand_in(folder, "silent", "pass")
    stand_in(folder, "killed", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    figures_path, readme_path = tmp_path / "figures.json", tmp_path / "README.md"
    earlier = {"intake": entry(figure("throughput", 1285, "req/s"), machine="2-core machine", day="2026-11-28")}
    figures_path.write_text(json.dumps(earlier))
    readme_path.write_text(README)

    succeeded = run_all.benches_run(
        names=["quick", "broken", "silent", "killed"],
        folder=folder,
        figures_path=figures_path,
        readme_path=readme_path,
        machine=MACHINE,
        day="2026-12-01",
    )

    assert succeeded is False
    assert json.loads(figures_path.read_text()) == {
        "broken": entry(figure("first", 1, "s"), failed="exit status 3"),
        "intake": earlier["intake"],
        "killed": entry(failed="killed by signal 9"),
        "quick": entry(figure("p50", 2.5)),
        "silent": entry(failed="recorded no figures"),
    }
    readme = readme_path.read_text()
    assert "| broken | **failed**: exit status 3 |" in readme
    assert "| intake | throughput | 1,285 req/s |" in readme
    assert "| quick | p50 | 2.5 ms |" in readme
    assert readme.endswith("Explanation of each benchmark | with a pipe.\n")


def test_benchmarks_that_all_succeed_report_success(tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    stand_in(folder, "quick", 'figure_record(name="p50", value=2.5, unit="ms")')
    (tmp_path / "README.md").write_text(README)

    assert run_all.benches_run(
        names=["quick"],
        folder=folder,
        figures_path=tmp_path / "figures.json",
        readme_path=tmp_path / "README.md",
        machine=MACHINE,
        day="2026-12-01",
    )


def test_the_python_loop_timing_of_each_run_is_shown_without_splitting_one_machine_in_two():
    figures = {
        "dashboard": {**entry(figure("median", 305.2)), "python_loop": "0.64 s"},
        "patterns": {**entry(figure("p99", 0.65)), "python_loop": "0.56 s"},
        "intake": entry(figure("throughput", 298, "req/s")),
    }

    table = run_all.table_render(figures=figures)

    assert (
        table.splitlines()[0]
        == f"Measured on: {MACHINE}; a Python loop of 10M additions took 0.56 s to 0.64 s; 2026-12-01."
    )
    assert " on |" not in table
