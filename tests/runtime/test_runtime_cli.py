import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

from initlint.runtime.cli import main  # noqa: E402

MODELS = textwrap.dedent("""
    import torch.nn as nn
    from initlint.runtime import init_model_

    def deep():
        layers = []
        for _ in range(12):
            layers += [nn.Linear(64, 64), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(64, 10))

    def fixed():
        model = deep()
        init_model_(model)
        return model

    def doubled():
        model = fixed()
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                layer.weight.data.mul_(2)
        return model

    def not_a_model():
        return 42

    class BiasFree(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4, bias=False)
            nn.init.zeros_(self.fc.bias)

    def broken():
        return BiasFree()

    def needs_config():
        raise KeyError("depth")
""")


def _line_of(text):
    return next(number for number, line in enumerate(MODELS.splitlines(), start=1) if text in line)


@pytest.fixture
def models_module(tmp_path, monkeypatch):
    (tmp_path / "cli_models.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "cli_models", raising=False)
    yield "cli_models"
    sys.modules.pop("cli_models", None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_findings_exit_1_and_clean_exit_0(models_module, capsys):
    assert main([f"{models_module}:deep", "--input-shape", "32,64"]) == 1
    out = capsys.readouterr().out
    assert "\nINI003 0: PyTorch default init before relu" in out
    assert "\nINI300 " in out
    assert main([f"{models_module}:fixed", "--input-shape", "32,64"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("no findings")


def test_thresholds_are_passed_on(models_module, capsys):
    assert main([f"{models_module}:doubled", "--input-shape", "32,64"]) == 1
    assert "INI301" in capsys.readouterr().out
    assert main([f"{models_module}:doubled", "--input-shape", "32,64", "--explode-above", "1e30"]) == 0
    capsys.readouterr()
    assert main([f"{models_module}:fixed", "--input-shape", "32,64", "--dead-above", "2"]) == 2
    assert capsys.readouterr().err == (
        "initlint audit: error: ValueError: need 0 < collapse_below < 1 < explode_above, 0 < dead_above < 1 and "
        "0 < saturated_above < 1, got 0.0001, 10000.0, 2.0 and 0.5\n")
    assert main([f"{models_module}:fixed", "--input-shape", "32,64", "--saturated-above", "1"]) == 2
    assert capsys.readouterr().err.endswith("got 0.0001, 10000.0, 0.8 and 1.0\n")


def test_plot_option_writes_a_png(models_module, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "moments.png"
    assert main([f"{models_module}:fixed", "--input-shape", "32,64", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("target, message", [
    ("no_such_module_xyz:build", "cannot import module 'no_such_module_xyz': ModuleNotFoundError"),
    ("cli_models:missing", "module 'cli_models' has no callable 'missing'"),
    ("cli_models:not_a_model", "cli_models:not_a_model() returned int, not a torch.nn.Module"),
    ("cli_models", "expected MODULE:FACTORY, got 'cli_models'"),
])
def test_usage_errors_exit_2_with_one_line(models_module, capsys, target, message):
    assert main([target, "--input-shape", "4,64"]) == 2
    err = capsys.readouterr().err
    assert err == f"initlint audit: error: {message}" + err[len("initlint audit: error: ") + len(message):]
    assert err.count("\n") == 1 and "Traceback" not in err


def test_model_that_fails_to_run_exits_2(models_module, capsys):
    assert main([f"{models_module}:deep", "--input-shape", "4,3"]) == 2
    assert capsys.readouterr().err.startswith("initlint audit: error: RuntimeError: ")


def test_help_says_it_runs_user_code(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: initlint audit")
    assert "IMPORTS AND RUNS YOUR CODE" in out


def test_missing_torch_exits_2_without_traceback():
    script = ("import sys; sys.modules['torch'] = None\n"
              "from initlint.runtime.cli import main\n"
              "sys.exit(main(['m:f', '--input-shape', '2,3']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == "initlint audit: error: auditing needs torch; install it with: pip install initlint[torch]\n"


def test_factory_that_raises_says_where_and_what_the_linter_predicts(models_module, capsys):
    assert main([f"{models_module}:broken", "--input-shape", "4,4"]) == 2
    err = capsys.readouterr().err
    line = _line_of("nn.init.zeros_(self.fc.bias)")
    lines = err.splitlines()
    assert lines[0] == ("initlint audit: error: building the model failed: cli_models:broken() raised "
                        "AttributeError: 'NoneType' object has no attribute 'zero_'")
    assert lines[1] == f"  at cli_models.py:{line} in __init__: nn.init.zeros_(self.fc.bias)"
    assert lines[2].startswith(f"  initlint predicts it: cli_models.py:{line}:9: INI101 ")
    assert len(lines) == 3 and "Traceback" not in err


def test_factory_that_raises_without_a_static_prediction(models_module, capsys):
    assert main([f"{models_module}:needs_config", "--input-shape", "4,4"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "initlint audit: error: building the model failed: cli_models:needs_config() raised KeyError: 'depth'",
        f"  at cli_models.py:{_line_of('raise KeyError')} in needs_config: raise KeyError(\"depth\")"]
