"""The comparison's options are declared once (ComparisonOptions): run_comparison's
keywords, its documentation, make_config and the command line's options are made from
the declaration and agree with it."""

import inspect
from dataclasses import fields

import pytest

from sklearn_ckn.__main__ import build_parser, main
from sklearn_ckn.compare import ComparisonOptions, run_comparison
from sklearn_ckn.compare import _comparison
from sklearn_ckn.compare._config import make_config

NAMES = [f.name for f in fields(ComparisonOptions)]
# The command line's options before the declaration (issue 27) and --overwrite (issue 28).
FLAGS = ["--dataset", "--models", "--data-home", "--n-train", "--n-test", "--cv", "--device",
         "--out", "--overwrite", "--random-state", "--verbose", "--max-train", "--param",
         "--quick", "--image-size", "--n-jobs", "--no-download", "--no-verify-checksums"]


def compare_parser():
    parser = build_parser()
    return parser.parse_args(["compare"]).subparser


def test_run_comparison_signature_and_docs_list_every_option():
    for func in (run_comparison, make_config):
        params = inspect.signature(func).parameters
        assert list(params) == NAMES
        assert params["dataset"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[1:])
        assert {n: p.default for n, p in params.items()} == {
            f.name: f.default for f in fields(ComparisonOptions)}
        for name in NAMES:
            assert f"\n    {name} : " in func.__doc__, name
    assert '    n_jobs : "auto", int or None, default="auto"\n' in run_comparison.__doc__
    assert "{parameters}" not in run_comparison.__doc__ + ComparisonOptions.__doc__


def test_command_line_options_are_those_declared():
    parser = compare_parser()
    flags = [a.option_strings[0] for a in parser._actions if a.dest not in ("help",)]
    assert flags == FLAGS
    declared = {f.name for f in fields(ComparisonOptions) if "cli" in f.metadata}
    assert {a.dest for a in parser._actions} - {"help"} == declared
    assert set(NAMES) - declared == {"n_misclassified", "command"}
    help_text = parser.format_help()
    assert "ckn,ckn_supervised,cnn,kernel_svm,naive_bayes,knn" in help_text
    assert "kernel_svm=20000" in help_text and "{" not in help_text


def test_command_line_passes_every_option(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(_comparison, "run_comparison", lambda **kw: seen.update(kw))
    assert main(["compare", "--models", "knn", "--no-download", "--param", "knn:knn__p=1",
                 "--max-train", "knn=none", "--overwrite", "--n-jobs", "-1"]) == 0
    assert set(seen) == set(NAMES) - {"n_misclassified"}
    assert seen["download_if_missing"] is False and seen["verify_checksums"] is True
    assert seen["model_params"] == {"knn": {"knn__p": 1}} and seen["max_train"] == {"knn": None}
    assert seen["overwrite"] is True and seen["n_jobs"] == -1
    assert seen["out"] == "compare_out/digits" and seen["models"] == "knn"
    assert seen["command"].startswith("sklearn-ckn compare --models knn")


def test_unknown_keyword_names_run_comparison_and_the_option_meant():
    with pytest.raises(TypeError, match=r"run_comparison\(\) got an unexpected keyword "
                                        r"argument 'n_trains'; did you mean 'n_train'\?"):
        run_comparison("digits", n_trains=10)
    with pytest.raises(TypeError, match="'colour'; its options: dataset, models, "):
        run_comparison(colour="red")


def test_options_feed_run_comparison():
    options = ComparisonOptions(models="naive_bayes", n_test=30, verbose=0)
    assert options.dataset == "digits" and options.out is None
    with pytest.raises(AttributeError):
        options.verbose = 2  # frozen
    result = run_comparison(**{f.name: getattr(options, f.name) for f in fields(options)})
    assert result.table["model"].tolist() == ["naive_bayes"] and result.info["n_test"] == 30
