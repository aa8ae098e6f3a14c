"""The run's reverse index: which checked files initialise instances of which other files' classes,
and which apply which other files' init helpers.

INI003 and INI103 claim an absence (nothing initialises these layers), yet the init of a model often
lives in the files that use it: a script that builds ``Net()`` and applies an init, loops over its
``modules()`` or ``named_parameters()``, or loads weights before training. Each file's analysis records
the classes of other files whose instances it initialises (``FileResult.initialised_here``, kept in the
cache with its findings); once the whole run is checked, a claim about a class that another checked file
initialises is dropped: its layers "may be initialised elsewhere".

Every input of the index is a file's own cached result, so the cache stays correct: a file's findings
are stored with the classes their claims are about (``Finding.absence_of``) and judged again against
each run's index; the index entries of a file are dropped with its cache entry when it, or a file it
read, changes.
"""
from __future__ import annotations

import os

Key = str  # a file's absolute, case-normalised path


def _key(path: str) -> Key:
    return os.path.normcase(os.path.abspath(path))


def initialised_elsewhere(reports) -> dict:
    """Absolute file path -> the names of its classes that some checked file initialises."""
    index: dict = {}
    for report in reports:
        for path, class_name in report.initialised_here:
            index.setdefault(_key(path), set()).add(class_name)
    return index


def classes_for(index: dict, path: str) -> frozenset:
    return frozenset(index.get(_key(path), ()))


def without_voided_claims(findings: list, classes: frozenset) -> list:
    """``findings`` less those claiming that layers of ``classes`` keep their default init."""
    if not classes:
        return findings
    return [finding for finding in findings if not classes.intersection(finding.absence_of)]


def void_absence_claims(reports, index: dict) -> None:
    for report in reports:
        classes = classes_for(index, report.path)
        if classes:
            report.findings = without_voided_claims(report.findings, classes)


# A helper of another file applied to a model here is reported at the call that runs it, without a fix,
# when the helper's file is not checked (pre-commit passes only the changed files). When it is, the
# finding belongs there, at the helper's own line, with its fix: the helper's file is checked again with
# the applications it is given (engine.check_module), and the findings at the calls are dropped.
def helper_applications(reports, files: list) -> dict:
    """Helper file key -> sorted ``(helper, parameter, model file, class, file, line, column)`` entries, for
    the helpers of checked files that other checked files run on their models."""
    checked = {_key(path) for path in files if not path.endswith(".ipynb")}
    found: dict = {}
    for report in reports:
        if report.path.endswith(".ipynb"):
            continue
        for application, line, column in report.applications_here:  # also those a ``# noqa`` silences
            if _key(application[0]) not in checked or _key(application[0]) == _key(report.path):
                continue
            helper_path, helper, param, models = application
            for model_path, class_name in models:
                found.setdefault(_key(helper_path), set()).add(
                    (helper, param, model_path, class_name, report.path, line, column))
    return {key: tuple(sorted(entries, key=repr)) for key, entries in found.items()}


def applications_for(applications: dict, path: str) -> tuple:
    return applications.get(_key(path), ())


def drop_moved(reports) -> None:
    """Drop the findings reported at a call whose helper's file was analysed with that call's runs: it
    reports them itself (or fixed them, or a ``# noqa`` there silences them)."""
    taken = {(_key(path), line) for report in reports for path, line in report.applied_here}
    if not taken:
        return
    for report in reports:
        key = _key(report.path)
        report.findings = [finding for finding in report.findings if finding.application is None
                           or (key, finding.line) not in taken]
