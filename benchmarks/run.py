#!/usr/bin/env python3
"""Measure initlint against its floors (ast.parse, LibCST parse) and its neighbours (flake8, TorchFix).

Run it with the project's interpreter, so that the snippets and the tools come from the same venv:

    .venv/bin/python benchmarks/run.py corpus/timm/timm --repeat 3 --double

``--baseline-initlint CMD`` adds another install's initlint (cold -j1 and warm) to the same round-robin,
so two versions are compared in one run under the same load.

It downloads nothing. The ``.py`` files under the given folders are copied into one temporary
corpus (so every tool sees exactly the same files, with no project config around them), then each
variant runs as its own subprocess, round-robin, ``--repeat`` times. The table gives medians.

Peak RSS: ``os.wait4`` gives the largest single process of the variant's tree (the child, or any
of its descendants that it reaped, e.g. ``-jN`` workers). The "tree" column is the largest sum of
the RSS of the child and all its descendants, sampled from /proc every ``--sample-interval``
seconds; shared (copy-on-write) pages are counted once per process, so it is an upper bound, and
a short peak between two samples can be missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

# Kept in step with initlint's defaults (config.DEFAULT_EXCLUDE, engine.DEFAULT_TOKENS); checked
# against the installed initlint at start-up when it can be imported.
EXCLUDED_DIRS = {".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".initlint_cache", ".ipynb_checkpoints",
                 ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn",
                 ".tox", ".venv", ".vscode", "__pycache__", "__pypackages__", "_build", "buck-out", "build", "dist",
                 "node_modules", "site-packages", "venv"}
TORCH_TOKENS = ("torch", "mmcv", "mmengine", "fvcore")

AST_SNIPPET = r"""
import ast, sys
ok = failed = 0
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    with open(path, "rb") as handle:
        source = handle.read()
    try:
        ast.parse(source)
        ok += 1
    except (SyntaxError, ValueError):
        failed += 1
sys.stderr.write(f"BENCH parsed={ok} failed={failed}\n")
"""

LIBCST_SNIPPET = r"""
import sys
import libcst
tokens = tuple(t.encode() for t in sys.argv[2].split(",") if t)
ok = failed = skipped = 0
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    with open(path, "rb") as handle:
        source = handle.read()
    if tokens and not any(t in source for t in tokens):
        skipped += 1
        continue
    try:
        libcst.parse_module(source)
        ok += 1
    except Exception:
        failed += 1
sys.stderr.write(f"BENCH parsed={ok} failed={failed} skipped={skipped}\n")
"""

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1024 * 1024


# ---------------------------------------------------------------------- measuring one process tree
def _children_map() -> dict:
    """ppid -> [pid] for every process we can see (one pass over /proc)."""
    result: dict = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        # the command name can hold spaces and parentheses: split after the last ')'
        fields = data[data.rindex(b")") + 2:].split()
        result.setdefault(int(fields[1]), []).append(int(entry))
    return result


def _tree_rss(root: int) -> int:
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, ()))
    return total


@dataclass
class Run:
    seconds: float
    cpu: float              # user + system seconds of the child and the descendants it reaped
    exit_code: int
    max_rss: int            # bytes, largest single process (wait4)
    tree_rss: int           # bytes, largest sampled sum over the tree (0 when not sampled)
    stderr: str


def run_once(argv: list, cwd: str, log: str, interval: float) -> Run:
    with open(log, "w+b") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], _tree_rss(process.pid))
                except OSError:
                    pass
                done.wait(interval)

        sampler = None
        if interval > 0 and os.path.isdir("/proc"):
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # interrupted: do not leave the variant running
            done.set()
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - start
        done.set()
        process.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        if sampler is not None:
            sampler.join()
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    max_rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    tree = max(peak[0], max_rss) if sampler is not None else 0  # a short run can end between samples
    return Run(seconds, usage.ru_utime + usage.ru_stime, process.returncode, max_rss, tree, text)


# ---------------------------------------------------------------------- variants
@dataclass
class Variant:
    key: str
    label: str
    argv: Optional[list]               # None: not run (see status)
    ok_codes: tuple = (0,)
    status: str = ""                   # "not available", "not installed", ...
    files: Optional[int] = None
    runs: list = field(default_factory=list)
    failure: str = ""
    check: Optional[Callable] = None   # extra check of a run's stderr: returns an error or ""


def tool_command(name: str, explicit: Optional[str], python: str) -> Optional[list]:
    """How to run a console script: the explicit command, the venv's script, PATH, or None."""
    if explicit:
        return explicit.split()
    beside = Path(python).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    return [found] if found else None


def capture(argv: list, cwd: Optional[str] = None, timeout: float = 120) -> tuple:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        return -1, str(error)


def no_traceback(stderr: str) -> str:
    if "Traceback" in stderr or "FailedToLoadPlugin" in stderr:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else "traceback"
    return ""


# ---------------------------------------------------------------------- corpus
def collect(folders: list) -> list:
    """(folder index, folder, relative path) of every .py file, sorted, with initlint's default excludes."""
    found = []
    for index, folder in enumerate(folders):
        root = Path(folder)
        if root.is_file():
            found.append((index, root.parent, Path(root.name)))
            continue
        for current, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
            for name in sorted(filenames):
                full = Path(current) / name
                if name.endswith(".py") and full.is_file():
                    found.append((index, root, full.relative_to(root)))
    return found


def stage(files: list, folders: list, destination: Path) -> list:
    names = []
    for index, folder in enumerate(folders):
        base = Path(folder).resolve().name or "root"
        names.append(base if [Path(f).resolve().name for f in folders].count(base) == 1 else f"{index}_{base}")
    copied = []
    for index, root, relative in files:
        target = destination / names[index] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, target)
        copied.append(str(target))
    return copied


# ---------------------------------------------------------------------- machine
def machine_info(python: str, initlint: list, flake8: Optional[list], torchfix: Optional[list],
                 baseline: Optional[list]) -> list:
    rows = []
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    rows.append(("nproc", f"{usable} usable ({cpus} reported by os.cpu_count())"))
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rows.append(("CPU", model))
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            total = int(handle.readline().split()[1]) // 1024
        rows.append(("memory", f"{total} MB"))
    except (OSError, ValueError, IndexError):
        pass
    rows.append(("OS", platform.platform()))
    code, text = capture([python, "-c", "import sys, platform, importlib.metadata as m; "
                          "print(platform.python_implementation(), sys.version.split()[0], '|', "
                          "m.version('libcst'))"])
    if code == 0 and "|" in text:
        py, cst = (part.strip() for part in text.strip().splitlines()[-1].split("|"))
        rows.append(("Python", f"{py} ({python})"))
        rows.append(("libcst", cst))
    else:
        rows.append(("Python", f"? ({python}): {text.strip()[:200]}"))
    code, text = capture(initlint + ["--version"])
    rows.append(("initlint", text.strip().splitlines()[-1] if text.strip() else f"? (exit {code})"))
    if baseline:
        code, text = capture(baseline + ["--version"])
        version = text.strip().splitlines()[-1] if text.strip() else f"? (exit {code})"
        rows.append(("baseline initlint", f"{version} ({' '.join(baseline)})"))
    if flake8:
        code, text = capture(flake8 + ["--version"])
        rows.append(("flake8", " ".join(text.split()) if code == 0 else "fails to start: "
                     + ((no_traceback(text) or text.strip().splitlines()[-1]) if text.strip() else f"exit {code}")))
    if torchfix:
        code, text = capture(torchfix + ["--version"])
        version = text.strip() if code == 0 else f"? (exit {code})"
        tf_python = Path(torchfix[0]).parent / "python"
        if tf_python.exists():
            _, cst = capture([str(tf_python), "-c", "import importlib.metadata as m; print(m.version('libcst'))"])
            version += f" (its own venv, libcst {cst.strip()})"
        rows.append(("TorchFix", version))
    return rows


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------------- report
def fmt(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def median(variant: Variant, what: str = "seconds") -> Optional[float]:
    if not variant.runs or variant.failure:
        return None
    return statistics.median(getattr(r, what) for r in variant.runs)


def table(variants: list, floor: Optional[float], cst: Optional[float], cpu_cst: Optional[float]) -> str:
    head = ["variant", "files", "wall median (s)", "min (s)", "CPU median (s)", "peak RSS, max proc (MB)",
            "peak RSS, tree sum (MB)", "x ast.parse", "x LibCST parse", "CPU x LibCST parse"]
    rows = []
    for v in variants:
        m = median(v)
        if m is None:
            rows.append([v.label, str(v.files or "-"), v.failure or v.status or "not run"] + [""] * 7)
            continue
        best = min(r.seconds for r in v.runs)
        max_rss = max(r.max_rss for r in v.runs) / MB
        tree = max(r.tree_rss for r in v.runs) / MB
        cpu = median(v, "cpu")
        rows.append([v.label, str(v.files or "-"), fmt(m), fmt(best), fmt(cpu), fmt(max_rss, 0),
                     fmt(tree, 0) if tree else "-", fmt(m / floor if floor else None, 1),
                     fmt(m / cst if cst else None, 2), fmt(cpu / cpu_cst if cpu_cst else None, 2)])
    widths = [max(len(str(x)) for x in column) for column in zip(head, *rows)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def compare(by: dict, cst: Optional[float], cpu_cst: Optional[float]) -> str:
    """This install against the baseline install: the cold and warm ratios side by side."""
    def ratios(cold_key: str, warm_key: str) -> list:
        cold, warm = median(by[cold_key]), median(by[warm_key])
        cpu_cold, cpu_warm = median(by[cold_key], "cpu"), median(by[warm_key], "cpu")
        return [cold / cst if cold and cst else None, cpu_cold / cpu_cst if cpu_cold and cpu_cst else None,
                100 * warm / cold if warm and cold else None,
                100 * cpu_warm / cpu_cold if cpu_warm and cpu_cold else None, cold, warm]
    names = ["cold -j1 x LibCST parse (wall)", "cold -j1 x LibCST parse (CPU)", "warm % of cold -j1 (wall)",
             "warm % of cold -j1 (CPU)", "cold -j1 wall median (s)", "warm -j1 wall median (s)"]
    new, base = ratios("cold-j1", "warm"), ratios("base-cold-j1", "base-warm")
    lines = ["| measure | this initlint | baseline | new / baseline |", "|---|---|---|---|"]
    for name, a, b in zip(names, new, base):
        digits = 1 if "%" in name else 2
        lines.append(f"| {name} | {fmt(a, digits)} | {fmt(b, digits)} | {fmt(a / b if a and b else None)} |")
    return "\n".join(lines)


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


# ---------------------------------------------------------------------- main
def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders (or .py files) to measure, as one corpus")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per variant (default 3)")
    parser.add_argument("--files-limit", type=int, help="only the first N .py files (sorted by path)")
    parser.add_argument("--double", action="store_true",
                        help="also time initlint cold -j1 on the corpus copied twice (two subfolders)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="N for initlint -jN")
    parser.add_argument("--skip", default="", help="comma-separated variant keys to leave out: ast, libcst, "
                        "libcst-torch, cold-j1, cold-jN, warm, base-cold-j1, base-warm, flake8, torchfix")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the parse snippets")
    parser.add_argument("--initlint", help="initlint command (default: beside --python, else PATH)")
    parser.add_argument("--baseline-initlint", metavar="CMD",
                        help="initlint command of another install to compare against, cold -j1 and warm, "
                        "in the same round-robin")
    parser.add_argument("--flake8", help="flake8 command (default: beside --python, else PATH)")
    parser.add_argument("--flake8-jobs", default="1", help="flake8 --jobs (default 1, like initlint -j1)")
    parser.add_argument("--torchfix", help="torchfix command (default: PATH, else python -m torchfix)")
    parser.add_argument("--sample-interval", type=float, default=0.1,
                        help="seconds between /proc RSS samples of the tree; 0 = no sampling")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary corpus and logs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    python = args.python
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    initlint = tool_command("initlint", args.initlint, python) or [python, "-m", "initlint"]
    flake8 = tool_command("flake8", args.flake8, python)
    torchfix = tool_command("torchfix", args.torchfix, python)
    if torchfix is None and capture([python, "-c", "import torchfix"])[0] == 0:
        torchfix = [python, "-m", "torchfix"]

    _check_defaults(python, say)
    files = collect(args.folders)
    if args.files_limit is not None:
        files = files[:args.files_limit]
    if not files:
        say("no .py files found")
        return 2

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _interrupt)
    temp = Path(tempfile.mkdtemp(prefix="initlint-bench-"))
    try:
        return _measure(args, skip, python, initlint, flake8, torchfix, files, temp, say)
    finally:
        if args.keep_temp:
            say(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)


def _interrupt(*_):
    raise KeyboardInterrupt


def _check_defaults(python: str, say) -> None:
    code, text = capture([python, "-c", "from initlint.config import DEFAULT_EXCLUDE; "
                          "from initlint.engine import DEFAULT_TOKENS; print(repr((DEFAULT_EXCLUDE, DEFAULT_TOKENS)))"])
    if code != 0:
        return
    try:
        exclude, tokens = eval(text.strip().splitlines()[-1], {})  # a repr of two tuples of str
    except Exception:
        return
    if set(exclude) != EXCLUDED_DIRS or tuple(tokens) != TORCH_TOKENS:
        say("warning: initlint's default excludes/tokens changed; update EXCLUDED_DIRS/TORCH_TOKENS in run.py")


def _measure(args, skip, python, initlint, flake8, torchfix, files, temp: Path, say) -> int:
    one = temp / "corpus1x"
    paths = stage(files, args.folders, one)
    total_bytes = sum(os.path.getsize(p) for p in paths)
    torch_files = 0
    for p in paths:
        with open(p, "rb") as handle:
            data = handle.read()
        torch_files += any(t.encode() in data for t in TORCH_TOKENS)
    listing = temp / "files1x.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    logs = temp / "logs"
    logs.mkdir()
    two = temp / "corpus2x"
    if args.double:
        shutil.copytree(one, two / "a")
        shutil.copytree(one, two / "b")

    load_start = load_average()
    n = args.jobs
    cache = temp / "cache1x"
    variants = [
        Variant("ast", "ast.parse (floor)", [python, "-c", AST_SNIPPET, str(listing)], files=len(paths)),
        Variant("libcst", "LibCST parse_module only", [python, "-c", LIBCST_SNIPPET, str(listing), ""],
                files=len(paths)),
        Variant("libcst-torch", "LibCST parse, torch-token files only",
                [python, "-c", LIBCST_SNIPPET, str(listing), ",".join(TORCH_TOKENS)], files=torch_files),
        Variant("cold-j1", "initlint cold -j1", initlint + ["--no-cache", "-j1", "-q", str(one)], (0, 1),
                files=len(paths)),
        Variant("cold-jN", f"initlint cold -j{n}", initlint + ["--no-cache", f"-j{n}", "-q", str(one)], (0, 1),
                files=len(paths)),
        Variant("warm", "initlint warm -j1 (cached)", initlint + ["--cache-dir", str(cache), "-j1", "-q", str(one)],
                (0, 1), files=len(paths)),
    ]
    if flake8 is None:
        variants.append(Variant("flake8", "flake8 --select INI", None, status="not available (no flake8)"))
    else:
        code, text = capture(flake8 + ["--version"])
        label = f"flake8 --select INI -j{args.flake8_jobs}"
        argv = flake8 + ["--select", "INI", "--jobs", args.flake8_jobs, str(one)]
        if code != 0 or "initlint" not in text:
            why = no_traceback(text) if code != 0 else "plugin not registered"
            variants.append(Variant("flake8", label, None, status=f"not available ({why[:80]})"))
        else:
            variants.append(Variant("flake8", label, argv, (0, 1), files=len(paths), check=no_traceback))
    if torchfix is None:
        variants.append(Variant("torchfix", "TorchFix -j1", None, status="not installed"))
    else:
        variants.append(Variant("torchfix", "TorchFix -j1 (own rules; files with 'torch')",
                                torchfix + ["-j1", str(one)], (0, 1), files=None))
    baseline = args.baseline_initlint.split() if args.baseline_initlint else None
    if baseline:
        variants.append(Variant("base-cold-j1", "baseline cold -j1", baseline + ["--no-cache", "-j1", "-q", str(one)],
                                (0, 1), files=len(paths)))
        variants.append(Variant("base-warm", "baseline warm -j1 (cached)",
                                baseline + ["--cache-dir", str(temp / "cache1x-base"), "-j1", "-q", str(one)],
                                (0, 1), files=len(paths)))
    if args.double:
        variants.append(Variant("cold-j1-2x", "initlint cold -j1, corpus x2",
                                initlint + ["--no-cache", "-j1", "-q", str(two)], (0, 1), files=2 * len(paths)))
    for v in variants:
        if v.key in skip:
            v.argv, v.status = None, "skipped"

    say(f"corpus: {len(paths)} .py files, {total_bytes / MB:.1f} MB, {torch_files} contain "
        f"{'/'.join(TORCH_TOKENS)}; temp {temp}")
    for warm in (v for v in variants if v.key in ("warm", "base-warm") and v.argv is not None):
        # fill the cache once (untimed, the same command at -jN); every timed warm run reuses it
        say(f"filling the cache for {warm.label} (-j{n}) ...")
        fill_argv = [f"-j{n}" if a == "-j1" else a for a in warm.argv]
        fill = run_once(fill_argv, str(temp), str(logs / f"fill-{warm.key}.log"), 0)
        if fill.exit_code not in (0, 1):
            warm.failure = f"cache fill failed (exit {fill.exit_code})"

    active = [v for v in variants if v.argv is not None and not v.failure]
    for rep in range(args.repeat):
        order = active[rep % len(active):] + active[:rep % len(active)] if active else []
        for v in order:
            if v.failure:
                continue
            log = logs / f"{v.key}-{rep}.log"
            result = run_once(v.argv, str(temp), str(log), args.sample_interval)
            problem = ""
            if result.exit_code not in v.ok_codes:
                problem = f"exit {result.exit_code}"
            elif v.check is not None:
                problem = v.check(result.stderr)
            if problem:
                tail = " ".join(result.stderr.strip().splitlines()[-1:])[:120]
                v.failure = f"failed: {problem}" + (f" ({tail})" if tail and tail not in problem else "")
                say(f"[{rep + 1}/{args.repeat}] {v.label}: {v.failure}")
                continue
            v.runs.append(result)
            note = " ".join(line for line in result.stderr.splitlines() if line.startswith("BENCH"))
            say(f"[{rep + 1}/{args.repeat}] {v.label}: {result.seconds:.2f} s (CPU {result.cpu:.2f} s), "
                f"{result.max_rss / MB:.0f} MB{'  ' + note if note else ''}")

    for v in variants:
        if v.key == "flake8" and v.argv is None and not v.status.startswith("skipped"):
            v.status = v.status or "not available"
    by = {v.key: v for v in variants}
    floor, cst, cst_torch = median(by["ast"]), median(by["libcst"]), median(by["libcst-torch"])
    cold, cold_n, warm_t = median(by["cold-j1"]), median(by["cold-jN"]), median(by["warm"])

    print("## Machine")
    for key, value in machine_info(python, initlint, flake8, torchfix, baseline):
        print(f"- {key}: {value}")
    print(f"- load average (1/5/15 min) at start: {load_start}; at end: {load_average()}")
    print()
    print("## Corpus")
    print(f"- command: {' '.join([os.path.relpath(sys.executable)] + sys.argv)}")
    print(f"- folders: {' '.join(args.folders)}")
    print(f"- {len(paths)} .py files, {total_bytes / MB:.1f} MB; {torch_files} contain one of "
          f"{', '.join(TORCH_TOKENS)} (initlint parses only those)")
    print(f"- repetitions: {args.repeat} (round-robin over the variants), medians; initlint -jN with N = {n}")
    print()
    print("## Results")
    print(table(variants, floor, cst, median(by["libcst"], "cpu")))
    print()
    print("## Targets")
    targets = []
    ratio = cold / cst if cold and cst else None
    extra = f"; vs token-filtered LibCST parse: {cold / cst_torch:.2f}x" if cold and cst_torch else ""
    cpu_cold, cpu_cst = median(by["cold-j1"], "cpu"), median(by["libcst"], "cpu")
    if cpu_cold and cpu_cst:
        extra += f"; in CPU time: {cpu_cold / cpu_cst:.2f}x"
    targets.append((f"cold -j1 <= 3x LibCST parse only (wall): {fmt(ratio)}x{extra}",
                    None if ratio is None else ratio <= 3))
    share = warm_t / cold if warm_t and cold else None
    cpu_warm = median(by["warm"], "cpu")
    cpu_share = f" (CPU time: {100 * cpu_warm / cpu_cold:.1f}%)" if cpu_warm and cpu_cold else ""
    targets.append((f"warm <= 5% of cold -j1: {fmt(share * 100 if share else None, 1)}%{cpu_share}",
                    None if share is None else share <= 0.05))
    lint = [by[k] for k in ("cold-j1", "cold-jN", "warm") if by[k].runs and not by[k].failure]
    if lint:
        biggest = max(r.max_rss for v in lint for r in v.runs) / MB
        tree = max(r.tree_rss for r in by["cold-jN"].runs) / MB if by["cold-jN"].runs else 0
        tree_text = f"; -j{n} tree sum (sampled, upper bound): {tree:.0f} MB" if tree else ""
        targets.append((f"peak RSS <= 300 MB (target stated for transformers): largest initlint process "
                        f"{biggest:.0f} MB{tree_text}", biggest <= 300))
    else:
        targets.append(("peak RSS <= 300 MB: no initlint run", None))
    if args.double:
        twice = median(by["cold-j1-2x"])
        growth = twice / cold if twice and cold else None
        cpu_twice = median(by["cold-j1-2x"], "cpu")
        cpu_growth = f", in CPU time {cpu_twice / cpu_cold:.2f}" if cpu_twice and cpu_cold else ""
        targets.append((f"doubling the corpus ~2x time: time(2x)/time(1x) = {fmt(growth)}{cpu_growth} "
                        f"(met if <= 2.2, i.e. no worse than linear)", None if growth is None else growth <= 2.2))
    else:
        targets.append(("doubling ~2x time: not measured (use --double)", None))
    if cold and cold_n:
        print(f"(speed-up cold -j1 -> -j{n}: {cold / cold_n:.2f}x)")
    for text, ok in targets:
        print(f"- [{verdict(ok)}] {text}")
    if baseline:
        print()
        print("## Against the baseline (same run, medians)")
        print(compare(by, cst, median(by["libcst"], "cpu")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
