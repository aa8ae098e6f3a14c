"""The run's reverse index: which checked files initialise instances of which other files' classes.

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


def initialised_elsewhere(reports) -> dict:
    """Absolute file path -> the names of its classes that some checked file initialises."""
    index: dict = {}
    for report in reports:
        for path, class_name in report.initialised_here:
            index.setdefault(os.path.normcase(os.path.abspath(path)), set()).add(class_name)
    return index


def classes_for(index: dict, path: str) -> frozenset:
    return frozenset(index.get(os.path.normcase(os.path.abspath(path)), ()))


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
