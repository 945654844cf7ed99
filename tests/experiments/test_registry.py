"""The registry, the report writer and the ``chainrule experiment`` command."""

import argparse

import pytest

from chainrule import experiments
from chainrule.experiments.cli import SUMMARY, configure_parser, execute, run_cli
from chainrule.experiments.report import markdown_table, write_report
from chainrule.experiments.result import Result, Table

STORY = ["softmax", "perceptron", "modes", "vanishing", "overfitting", "momentum", "regularization",
         "learning-rate", "seeds", "classics"]


def test_registry_holds_the_ten_experiments_in_order_of_the_story():
    # Round 2's experiments (attention, ...) follow the ten classics.
    assert experiments.names()[:len(STORY)] == STORY
    for name in experiments.names():
        module = experiments.get(name)
        assert module.NAME == name
        assert module.TITLE and module.CLAIM and callable(module.run)


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown experiment 'backprop'.*softmax, perceptron"):
        experiments.get("backprop")


def test_cli_lists_every_experiment(capsys):
    assert run_cli(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == experiments.names()


def test_cli_rejects_an_unknown_name_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["backprop"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'backprop'" in capsys.readouterr().err


def test_cli_needs_a_name_or_list(capsys):
    with pytest.raises(SystemExit):
        run_cli([])
    assert "one of the arguments NAME --list is required" in capsys.readouterr().err


def test_cli_runs_an_experiment_and_prints_its_headline(tmp_path, capsys):
    assert run_cli(["overfitting", "--quick", "--out", str(tmp_path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "M = 9 fits the ten points" in out
    assert f"report: {tmp_path / 'report.md'}" in out
    assert (tmp_path / "overfitting_fits.png").is_file()


def test_command_plugs_into_a_parent_parser_as_the_chainrule_cli_does(capsys):
    parser = argparse.ArgumentParser(prog="chainrule")
    sub = parser.add_subparsers(dest="command").add_parser("experiment", help=SUMMARY)
    configure_parser(sub).set_defaults(run=execute)
    args = parser.parse_args(["experiment", "modes", "--quick", "--seed", "4"])
    assert (args.name, args.quick, args.seed, args.out, args.list) == ("modes", True, 4, None, False)
    listing = parser.parse_args(["experiment", "--list"])
    assert listing.run(listing) == 0
    assert capsys.readouterr().out.startswith("softmax ")


def test_report_holds_title_claim_tables_notes_and_figures(tmp_path):
    class Experiment:
        NAME, TITLE, CLAIM = "demo", "A demo", "Demos demonstrate."

    figure = tmp_path / "figs" / "curve.png"
    result = Result("It worked: 3 of 3.", [Table("Counts", ["a", "b"], [[1, 0.123456]])], [figure],
                    {"count": 3}, ["A note."])
    text = write_report(Experiment, result, tmp_path).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# A demo"
    for part in ("*Claim:* Demos demonstrate.", "**Result:** It worked: 3 of 3.", "| 1 | 0.1235 |",
                 "A note.", "![curve](figs/curve.png)", "`chainrule experiment demo`"):
        assert part in text


def test_table_rows_must_match_the_columns():
    with pytest.raises(ValueError, match="row \\[1\\] has 1 cells for 2 columns"):
        Table("Bad", ["a", "b"], [[1]])
    assert markdown_table(Table("T", ["x"], [[True]])).endswith("| True |")
