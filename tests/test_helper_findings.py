"""Issue 18 §4: a finding in another file's helper is reported at the helper's own line (where --fix
rewrites and # noqa goes), once per helper, naming who applies it, when the helper's file is checked too;
at the call that runs it, without a fix, when it is not."""
import json
import shutil

from conftest import fixture_path, run_cli

HELPERS = fixture_path("reach_project", "helpers")


def concise(*args, cwd=HELPERS):
    result = run_cli("--no-cache", "--output-format", "concise", *args, cwd=cwd)
    return [line for line in result.stdout.splitlines() if ": INI" in line], result


def test_the_whole_package_reports_at_the_helper_once_naming_who_applies_it():
    lines, result = concise("pkg")
    assert lines == [
        "pkg/utils.py:6:9: INI001 [*] every Conv2d/Linear weight reached here is set to zero (ConvNet.features[0], "
        "ConvNet.features[2], ConvNet.head): all units stay identical (applied to ConvNet at pkg/train.py:9); "
        "every Linear weight reached here is set to zero (Mlp.fc1, Mlp.fc2, Mlp.out): all units stay identical "
        "(applied to Mlp at pkg/finetune.py:7)",  # each applier's models named with their own layers
        "pkg/utils.py:12:13: INI002 xavier_uniform_ on Mlp.fc1, Mlp.fc2 followed by relu: the signal shrinks about "
        "2.0x over 2 such layers by Mlp.fc2 (1.4x per layer: fan_in=8, fan_out=8); use He (kaiming) init "
        "(applied to Mlp at pkg/train.py:11)",
    ], result.stdout + result.stderr


def test_only_the_scripts_checked_report_at_the_calls_without_a_fix():
    lines, result = concise("pkg/train.py", "pkg/finetune.py")
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["pkg/finetune.py:7:1:", "INI001"], ["pkg/train.py:9:1:", "INI001"], ["pkg/train.py:11:1:", "INI002"]]
    assert all("[*]" not in line and "(in utils.py, run here)" in line for line in lines)


def test_the_helper_alone_gets_only_the_checks_that_hold_for_any_model():
    lines, _ = concise("pkg/utils.py")
    assert [line.split(" ", 2)[:2] for line in lines] == [["pkg/utils.py:6:9:", "INI001"]]
    assert "this helper sets every Conv2d/Linear weight it meets to zero" in lines[0]


def test_fix_rewrites_the_helper_not_the_scripts(tmp_path):
    shutil.copytree(HELPERS, tmp_path / "p")
    project = tmp_path / "p"
    before = {path.name: path.read_bytes() for path in (project / "pkg").glob("*.py")}
    result = run_cli("--no-cache", "--fix", "pkg", cwd=str(project))
    after = {path.name: path.read_bytes() for path in (project / "pkg").glob("*.py")}
    assert [name for name in sorted(before) if before[name] != after[name]] == ["utils.py"], result.stderr
    assert after["utils.py"] == before["utils.py"].replace(
        b"nn.init.zeros_(m.weight)", b'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")')
    assert "pkg/utils.py:12:13: INI002" in result.stdout and "train.py" not in result.stdout.split("INI002")[0]


def test_noqa_at_the_helper_silences_it_everywhere(tmp_path):
    shutil.copytree(HELPERS, tmp_path / "p")
    utils = tmp_path / "p" / "pkg" / "utils.py"
    utils.write_text(utils.read_text().replace("nn.init.zeros_(m.weight)", "nn.init.zeros_(m.weight)  # noqa: INI001"))
    lines, _ = concise("pkg", cwd=str(tmp_path / "p"))
    assert [line.split(" ", 2)[:2] for line in lines] == [["pkg/utils.py:12:13:", "INI002"]]


def test_sarif_names_the_calls_as_related_locations():
    result = run_cli("--no-cache", "--output-format", "sarif", "pkg", cwd=HELPERS)
    results = json.loads(result.stdout)["runs"][0]["results"]
    related = {r["ruleId"]: [(loc["physicalLocation"]["artifactLocation"]["uri"],
                              loc["physicalLocation"]["region"]["startLine"], loc["message"]["text"])
                             for loc in r.get("relatedLocations", ())] for r in results}
    assert related == {"INI001": [("pkg/train.py", 9, "zero_init applied to ConvNet here"),
                                  ("pkg/finetune.py", 7, "zero_init applied to Mlp here")],
                       "INI002": [("pkg/train.py", 11, "init_params applied to Mlp here")]}


def test_json_names_the_calls_as_related_locations(tmp_path):
    def related(*args, cwd=HELPERS):
        rows = json.loads(run_cli(*args, "--output-format", "json", "pkg", cwd=cwd).stdout)
        return {(row["code"], row["filename"]): row["related"] for row in rows}
    expected = {
        ("INI001", "pkg/utils.py"): [
            {"filename": "pkg/train.py", "location": {"column": 1, "row": 9},
             "message": "zero_init applied to ConvNet here"},
            {"filename": "pkg/finetune.py", "location": {"column": 1, "row": 7},
             "message": "zero_init applied to Mlp here"}],
        ("INI002", "pkg/utils.py"): [
            {"filename": "pkg/train.py", "location": {"column": 1, "row": 11},
             "message": "init_params applied to Mlp here"}],
    }
    assert related("--no-cache") == expected
    cache = str(tmp_path / "cache")
    assert related("--cache-dir", cache) == related("--cache-dir", cache, "-j", "2") == expected
    # The helper's file left out (pre-commit passes the changed files): the finding is at the call, alone.
    rows = json.loads(run_cli("--no-cache", "--output-format", "json", "pkg/train.py", cwd=HELPERS).stdout)
    assert [(row["code"], row["filename"], row["location"]["row"], row["related"]) for row in rows] == [
        ("INI001", "pkg/train.py", 9, []), ("INI002", "pkg/train.py", 11, [])]


def test_a_cached_run_gives_the_same_findings(tmp_path):
    cache = str(tmp_path / "cache")
    first = run_cli("--cache-dir", cache, "--output-format", "concise", "pkg", cwd=HELPERS)
    second = run_cli("--cache-dir", cache, "--output-format", "concise", "-j", "2", "pkg", cwd=HELPERS)
    assert first.stdout == second.stdout and "applied to ConvNet at pkg/train.py:9" in first.stdout


def test_a_helper_beside_the_model_it_is_applied_to_is_reported_at_the_helper():
    folder = fixture_path("reach_project", "dcgan")
    lines, result = concise(".", cwd=folder)
    assert [line.split(" ", 2)[:2] for line in lines] == [["models.py:7:9:", "INI002"]], result.stdout
    assert lines[0].endswith("(applied to Generator at train.py:6)")
    alone, _ = concise("train.py", cwd=folder)
    assert [line.split(" ", 2)[:2] for line in alone] == [["train.py:6:1:", "INI002"]]
    assert alone[0].endswith("(in models.py, run here)")


def test_a_noqa_at_the_call_does_not_hide_the_helpers_finding(tmp_path):
    # whether the helper's file hears of a run is decided before ``# noqa``, whatever rules are selected:
    # the finding belongs to the helper, and a directive at the call (as an older --add-noqa wrote) cannot
    # make it come and go with --select
    shutil.copytree(HELPERS, tmp_path / "p")
    train = tmp_path / "p" / "pkg" / "train.py"
    silenced = train.read_text().replace("utils.init_params(mlp)  #", "utils.init_params(mlp)  # noqa: INI002 #")
    train.write_text(silenced)
    cache = str(tmp_path / "cache")
    for args in ((), ("--select", "ALL"), ("--cache-dir", cache), ("--cache-dir", cache, "-j", "2")):
        result = run_cli(*(args or ("--no-cache",)), "--output-format", "concise", "pkg", cwd=str(tmp_path / "p"))
        lines = [line for line in result.stdout.splitlines() if "INI002" in line]
        assert [line.split(" ", 2)[0] for line in lines] == ["pkg/utils.py:12:13:"], (args, result.stdout)
        assert lines[0].endswith("(applied to Mlp at pkg/train.py:11)")
