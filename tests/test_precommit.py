"""The pre-commit hooks: the manifest validates, and ``pre-commit run`` runs both hooks end to end.

The hook repository is a commit of this working tree, made once per session (so uncommitted and untracked
changes are tested too), named by its path and commit in a configuration as a user writes it
(``repo:``/``rev:``/``hooks:``). pre-commit clones it and installs initlint into a fresh virtualenv with
pip, so it needs the package index (for libcst). The clone and the environment are kept in a private
PRE_COMMIT_HOME shared by the session, so they are built once (about 10 s) rather than for every call as
``pre-commit try-repo`` does (it keeps them in a temporary store of its own). When pip cannot reach an
index the end-to-end tests are skipped, saying so.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "integration"

FIXED_RELU_NET = '''\
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")

    def forward(self, x):
        return F.relu(self.fc(x))
'''

# What pip says when it cannot reach a package index. "(from versions: none)" is how an unreachable
# index ends; a reachable index that lacks a matching version lists the versions it has, and fails the test.
OFFLINE = re.compile(r"Could not find a version that satisfies the requirement \S+ \(from versions: none\)|"
                     r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
                     r"resolution|Network is unreachable|Name or service not known|ConnectTimeout|"
                     r"ProxyError|Max retries exceeded")


def pre_commit(cwd, home, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["PRE_COMMIT_COLOR"] = "never"
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=initlint tests", "-c", "user.email=tests@initlint.invalid",
                    "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                   cwd=cwd, check=True, capture_output=True)


def consumer_repo(folder: Path, files: dict) -> Path:
    """A project that uses the hooks: a git repository holding ``files`` (name -> fixture)."""
    folder.mkdir()
    git(folder, "init", "-q")
    for name, fixture in files.items():
        shutil.copyfile(FIXTURES / fixture, folder / name)
    git(folder, "add", *files)
    return folder


# ---------------------------------------------------------------------- the manifest
def test_manifest_validates():
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_manifest_hooks():
    hooks = yaml.safe_load(MANIFEST.read_text())
    assert [(h["id"], h["entry"], h["language"], h["types_or"]) for h in hooks] == [
        ("initlint", "initlint", "python", ["python", "pyi", "jupyter"]),
        ("initlint-fix", "initlint --fix", "python", ["python", "pyi", "jupyter"]),
    ]
    assert all("args" not in h and h.get("pass_filenames", True) for h in hooks)


def test_a_broken_manifest_does_not_validate(tmp_path):
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(MANIFEST.read_text().replace("language: python", "language: pythonish", 1))
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "pythonish" in result.stdout + result.stderr


# ---------------------------------------------------------------------- pre-commit run, end to end
@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory):
    """A git repository holding this working tree's package and manifest, committed; its configuration
    (both hooks, pinned to that commit) is ``hooks.yaml`` beside it, outside the repository."""
    repo = tmp_path_factory.mktemp("precommit") / "initlint-hooks"
    repo.mkdir()
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copyfile(ROOT / name, repo / name)
    shutil.copytree(ROOT / "src" / "initlint", repo / "src" / "initlint",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "hooks under test")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                            check=True).stdout.strip()
    hooks = [{"id": "initlint"}, {"id": "initlint-fix"}]
    config = {"repos": [{"repo": str(repo), "rev": commit, "hooks": hooks}]}
    (repo.parent / "hooks.yaml").write_text(yaml.safe_dump(config))
    return repo


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def run_hook(project, home, repo, hook, *files):
    """``pre-commit run HOOK --files FILES`` in ``project`` with the hook repository's configuration."""
    config = str(repo.parent / "hooks.yaml")
    result = pre_commit(project, home, "run", "--config", config, hook, "--files", *files)
    offline = OFFLINE.search(result.stdout + result.stderr)
    if result.returncode != 0 and offline:
        pytest.skip(f"pre-commit could not install initlint's hook environment (no package index?): "
                    f"{offline.group(0)}")
    return result


def test_check_hook_fails_on_findings_and_leaves_the_files(hook_repo, pre_commit_home, tmp_path):
    project = consumer_repo(tmp_path / "project", {"model.py": "relu_net.py", "notes.txt": "relu_net.py",
                                                   "model.ipynb": "relu_net.ipynb"})
    result = run_hook(project, pre_commit_home, hook_repo, "initlint", "model.py", "notes.txt", "model.ipynb")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^initlint\.+Failed$", result.stdout, re.M), output
    assert "- exit code: 1" in result.stdout
    assert "model.py:9:9: INI002 [*] xavier_uniform_ on self.fc followed by relu" in result.stdout
    assert "INI103" not in result.stdout  # advice: not in the default set
    assert "notes.txt" not in result.stdout  # types_or: not a Python file, not passed to initlint
    assert re.search(r"^model\.ipynb:cell 2:9:9: INI002 \[\*\] xavier_uniform_", result.stdout, re.M), output
    assert (project / "model.py").read_text() == (FIXTURES / "relu_net.py").read_text()
    # the cache sits at the project root with a .gitignore of its own: `git add -A` never picks it up
    assert (project / ".initlint_cache" / ".gitignore").is_file()
    git(project, "add", "-A")
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=project, capture_output=True,
                            text=True, check=True).stdout.split()
    assert sorted(staged) == ["model.ipynb", "model.py", "notes.txt"]


def test_fix_hook_rewrites_the_file_and_then_the_check_passes(hook_repo, pre_commit_home, tmp_path):
    project = consumer_repo(tmp_path / "project", {"model.py": "relu_net.py", "clean.py": "not_torch.py"})
    result = run_hook(project, pre_commit_home, hook_repo, "initlint-fix", "model.py", "clean.py")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # pre-commit fails a hook that modifies files
    assert re.search(r"^initlint \(fix\)\.+Failed$", result.stdout, re.M), output
    assert "- files were modified by this hook" in result.stdout
    assert (project / "model.py").read_text() == FIXED_RELU_NET
    assert (project / "clean.py").read_text() == (FIXTURES / "not_torch.py").read_text()
    check = run_hook(project, pre_commit_home, hook_repo, "initlint", "model.py", "clean.py")
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(r"^initlint\.+Passed$", check.stdout, re.M), check.stdout
    assert (project / "model.py").read_text() == FIXED_RELU_NET
