"""The benchmark runner's plumbing: workers, missing peers, tables and the Markdown and JSON writers.

No timing is asserted here: timings belong to ``python -m benchmarks``.
"""

import json

import pytest

from benchmarks import epoch, memory, overhead, step, timing
from benchmarks.environment import source_digest
from benchmarks.report import Goal, Results, format_seconds, render_markdown, to_json
from benchmarks.runner import run_framework
from benchmarks.workloads import WORKLOADS

TINY = {"graph": "tiny", "size": 1}


def timing_of(median):
    return {"median_s": median, "q1_s": 0.9 * median, "q3_s": 1.1 * median, "repeats": 5,
            "calls_per_repeat": 10, "cpu_per_wall": 1.0}


def test_a_framework_that_cannot_be_imported_is_reported_missing(tmp_path):
    (tmp_path / "torch.py").write_text("raise ImportError('torch is hidden by the test')\n")
    outcome = run_framework("torch", "overhead", threads=1, quick=True,
                            extra_env={"PYTHONPATH": str(tmp_path)})
    assert outcome == {"status": "missing", "reason": "torch is hidden by the test"}


def test_a_worker_measures_every_case_and_reports_json():
    outcome = run_framework("numpy", "overhead", threads=1, quick=True)
    assert outcome["status"] == "ok"
    assert len(outcome["cases"]) == len(overhead.cases(quick=True))
    tiny = outcome["cases"][0]
    assert tiny["q1_s"] <= tiny["median_s"] <= tiny["q3_s"]
    assert tiny["repeats"] >= timing.QUICK.min_repeats


def test_a_missing_peer_stays_in_the_table_and_its_goal_is_not_judged():
    results = Results({"chainrule": {"status": "ok", "cases": [timing_of(10e-6)]},
                       "torch": {"status": "missing", "reason": "No module named 'torch'"},
                       "numpy": {"status": "error", "reason": "MemoryError"}})
    table, = overhead.tables([TINY], results, frameworks=("chainrule", "torch", "numpy"))
    assert table.headers[:4] == ["graph", "chainrule", "PyTorch eager", "NumPy by hand"]
    assert table.rows[0][1:] == ["10.0 µs ±10%", "missing", "error", "n/a", "≤ 0.5x PyTorch", "n/a"]
    assert [goal.status for goal in table.goals] == ["n/a"]


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_table_shows_peers_that_are_missing(name):
    module = WORKLOADS[name]
    missing = {"status": "missing", "reason": "No module named 'x'"}
    tables = module.tables(module.cases(quick=False), Results(dict.fromkeys(module.FRAMEWORKS, missing)))
    for table in tables:
        assert table.rows
        assert all("missing" in row for row in table.rows)
    assert all(goal.status == "n/a" for table in tables for goal in table.goals)


def test_goals_are_met_or_missed_by_the_ratio_against_the_peer():
    results = Results({"chainrule": {"status": "ok", "cases": [timing_of(10e-6), timing_of(10e-6)]},
                       "torch": {"status": "ok", "cases": [timing_of(25e-6), timing_of(15e-6)]}})
    table, = overhead.tables([TINY, dict(TINY, size=100)], results, frameworks=("chainrule", "torch"))
    assert [row[-3:] for row in table.rows] == [["0.40x", "≤ 0.5x PyTorch", "met"],
                                                ["0.67x", "≤ 0.5x PyTorch", "MISSED"]]


def test_step_table_checks_both_goals_and_reports_how_well_losses_agree():
    measured = {"chainrule": 1.0e-3, "torch": 1.2e-3, "numpy": 0.8e-3}
    results = Results({name: {"status": "ok", "cases": [timing_of(t) | {"losses": [2.0, 1.5, 1.0]}]}
                       for name, t in measured.items()})
    table, = step.tables([{"model": "A", "batch": 128}], results)
    row = dict(zip(table.headers, table.rows[0], strict=True))
    assert row["chainrule / PyTorch"] == "0.83x"
    assert row["chainrule / NumPy"] == "1.25x"
    assert row["status"] == "MISSED"
    assert row["HIPS autograd"] == "not run"
    assert "agree across frameworks to a relative 0.0e+00" in table.note


@pytest.mark.parametrize("compiled_seconds, status", [(7.6e-3, "met"), (7.75e-3, "MISSED")])
@pytest.mark.parametrize("name, steps", [("vision", 2), ("recurrent", 4), ("gpt", 1)])
def test_compiled_steps_must_be_1_3x_faster_than_chainrule_eager(name, steps, compiled_seconds, status):
    module = WORKLOADS[name]
    cases = module.cases(quick=False)
    seconds = {"chainrule": 10e-3, "compiled": compiled_seconds, "torch": 5e-3, "jax": 5e-3}
    measured = {framework: timing_of(seconds[framework]) | {"steady_mib": 1.0, "tokens_per_s": 9.0}
                for framework in module.FRAMEWORKS}
    results = Results({framework: {"status": "ok", "cases": [measurement] * len(cases)}
                       for framework, measurement in measured.items()})
    table, = module.tables(cases, results)
    compiled_goals = [goal for goal in table.goals if goal.peer == "chainrule eager"]
    assert [goal.target for goal in compiled_goals] == ["≤ 0.769x chainrule eager"] * steps
    assert [goal.status for goal in compiled_goals] == [status] * steps
    ratio = f"{compiled_seconds / 10e-3:.2f}x"
    assert [row[table.headers.index("compiled / eager")] for row in table.rows[:steps]] == [ratio] * steps


def test_memory_table_checks_the_replayed_step_against_the_numpy_floor():
    steady_mib = {"chainrule": 15.0, "compiled": 21.0, "torch": 27.0, "numpy": 20.0}
    results = Results({framework: {"status": "ok", "cases": [{"first_mib": mib + 5, "steady_mib": mib}]}
                       for framework, mib in steady_mib.items()})
    table, = memory.tables(memory.cases(quick=False), results)
    first, steady = (dict(zip(table.headers, row, strict=True)) for row in table.rows)
    assert first["chainrule compiled"] == "26.0 MiB"
    assert (first["goal"], first["status"]) == ("chainrule ≤ 1.3x NumPy", "met")
    assert steady["compiled / NumPy"] == "1.05x"
    assert steady["goal"] == "chainrule ≤ 1.3x NumPy, compiled ≤ 1.0x NumPy"
    assert steady["status"] == "MISSED"
    assert [goal.status for goal in table.goals] == ["met", "met", "MISSED"]


def test_epoch_table_checks_the_compiled_and_the_trainer_mnist1d_epochs_against_pytorch():
    seconds = {"chainrule": 0.034, "compiled": 0.02, "train": 0.03, "torch": 0.036}
    fashion_missing = {"data_missing": "Fashion-MNIST is not downloaded. Run chainrule data download."}
    results = Results({framework: {"status": "ok",
                                   "cases": [timing_of(median) | {"last_loss": 1.4}, fashion_missing]}
                       for framework, median in seconds.items()})
    table, = epoch.tables(epoch.cases(quick=False), results)
    mnist, fashion = (dict(zip(table.headers, row, strict=True)) for row in table.rows)
    columns = ("chainrule compiled / PyTorch", "chainrule train's loop / PyTorch", "goal", "status")
    assert [mnist[column] for column in columns] == [
        "0.56x", "0.83x", "chainrule compiled ≤ 0.6x PyTorch, chainrule train's loop ≤ 0.8x PyTorch", "MISSED"]
    assert [fashion[column] for column in columns] == ["n/a", "n/a", "—", "—"]
    assert [(goal.description, goal.status) for goal in table.goals] == [
        ("epoch of MNIST-1D (chainrule compiled): ≤ 0.6x PyTorch", "met"),
        ("epoch of MNIST-1D (chainrule train's loop): ≤ 0.8x PyTorch", "MISSED")]


def run_description():
    return {"command": "python -m benchmarks --only overhead",
            "machine": {"platform": "Linux", "cpu": "Some CPU", "cores": 2, "python": "3.11"},
            "versions": {"python": "3.11", "torch": "missing"}, "commit": "abc1234", "date": "today",
            "chainrule_source": {"at_start": "0123456789ab", "at_end": "ba9876543210"},
            "settings": {"threads": 1, "quick": False, "cpus": [1], "environment": {"OMP_NUM_THREADS": "1"}},
            "workloads": {"overhead": {"cases": [TINY], "results": {
                "chainrule": {"status": "ok", "cases": [timing_of(1e-5) | {"cpu_per_wall": 1.02}]},
                "torch": {"status": "missing", "reason": "No module named 'torch'"}}}}}


def test_markdown_report_holds_goals_settings_and_every_table():
    table, = overhead.tables([TINY], Results({"chainrule": {"status": "ok", "cases": [timing_of(1e-5)]},
                                              "torch": {"status": "ok", "cases": [timing_of(4e-5)]}}))
    text = render_markdown(run_description(), [table], notes="Why a goal is missed.")
    assert "| tiny graph, 1 element: ≤ 0.5x PyTorch | 0.25x | met |" in text
    assert "| command | `python -m benchmarks --only overhead` |" in text
    assert "| versions | python 3.11, torch missing |" in text
    assert "`OMP_NUM_THREADS=1`, `torch.set_num_threads(1)`, bound to CPU 1 |" in text
    assert "processor time / wall time at most 1.02" in text
    assert "| chainrule source | CHANGED during the run (digest 0123456789ab at the start" in text
    assert "- overhead, PyTorch eager: missing (No module named 'torch')" in text
    assert "| `(a*b + a).sum()`, 1 element | 10.0 µs ±10% | 40.0 µs ±10% |" in text
    assert text.rstrip().endswith("## Notes\n\nWhy a goal is missed.")


def test_json_report_round_trips_the_run_and_its_tables():
    table, = overhead.tables([TINY], Results({"chainrule": {"status": "ok", "cases": [timing_of(1e-5)]}}))
    document = json.loads(to_json(run_description(), [table]))
    assert document["workloads"]["overhead"]["results"]["chainrule"]["cases"][0]["median_s"] == 1e-5
    assert document["tables"][0]["rows"] == table.rows
    assert document["tables"][0]["goals"] == [{"subject": "tiny graph, 1 element", "peer": "PyTorch",
                                               "ratio": None, "limit": 0.5,
                                               "description": "tiny graph, 1 element: ≤ 0.5x PyTorch",
                                               "status": "n/a"}]


@pytest.mark.parametrize("seconds, text", [(8.7e-6, "8.70 µs"), (8.123e-4, "812 µs"), (9.9996e-4, "1.00 ms"),
                                           (0.0152, "15.2 ms"), (2.5, "2.50 s")])
def test_times_print_with_three_significant_digits(seconds, text):
    assert format_seconds(seconds) == text


def test_goal_status():
    goals = [Goal("step", "PyTorch", ratio, 1.0) for ratio in (0.5, 1.0, 1.5, None)]
    assert [goal.status for goal in goals] == ["met", "met", "MISSED", "n/a"]
    assert goals[0].description == "step: ≤ 1.0x PyTorch"


def test_measure_summarises_repeats_of_a_function():
    calls = []
    budget = timing.Budget(warmup=2, warmup_seconds=0.0, repeats=4, min_repeats=3, repeat_seconds=0.001,
                           total_seconds=0.05)
    result = timing.measure(lambda: calls.append(1), budget)
    assert 3 <= result["repeats"] <= 4
    assert len(calls) >= 2 + result["repeats"] * result["calls_per_repeat"]
    assert result["q1_s"] <= result["median_s"] <= result["q3_s"]


def test_source_digest_changes_with_the_code(tmp_path):
    (tmp_path / "module.py").write_text("x = 1\n")
    before = source_digest(tmp_path)
    assert source_digest(tmp_path) == before
    (tmp_path / "module.py").write_text("x = 2\n")
    assert source_digest(tmp_path) != before


def test_render_rewrites_the_markdown_from_a_json_run_without_measuring(tmp_path, capsys):
    from benchmarks.__main__ import main
    run = run_description()
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run))
    main(["--render", str(saved), "--markdown", str(tmp_path / "report.md")])
    text = (tmp_path / "report.md").read_text()
    assert "| `(a*b + a).sum()`, 1 element | 10.0 µs ±10% | missing |" in text
    assert f"wrote {tmp_path / 'report.md'}" in capsys.readouterr().out


def test_a_case_that_needs_a_missing_framework_is_reported_missing_in_one_line(monkeypatch):
    import types

    from benchmarks import worker

    def measure_case(framework, case, budget):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")
    fake = types.SimpleNamespace(cases=lambda quick: [{}], measure_case=measure_case)
    monkeypatch.setitem(worker.WORKLOADS, "recurrent", fake)
    outcome = worker.run("chainrule", "recurrent", True, 1)
    assert outcome == {"status": "missing", "reason": "recurrent needs torch here, which is not installed "
                                                      "(pip install 'chainrule[bench]' installs every framework)"}


def test_the_recurrent_chainrule_step_runs_without_pytorch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None\n"
            "from benchmarks import recurrent\n"
            "case = recurrent.cases(True)[0] | {'seq': 3, 'batch': 2}\n"
            "print(recurrent._step('chainrule', case)())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 0
