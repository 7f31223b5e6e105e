"""Upgrades of ``project.json`` from older schema versions to the current one.

Each migration is a plain function ``dict -> dict`` registered with :func:`migration` for
the schema version it reads; it returns the document in the next version's layout.
:func:`migrate` runs them in order until the document reaches :data:`SCHEMA_VERSION`.

Migrations only move and rename things. They must not crash on a document of the wrong
shape: they leave odd values where they are, so the schema check that follows reports them
with a precise message.

Schema history
--------------
0
    The pre-release layout (app versions 0.0.x). The graph lived under ``"network"``, the
    data spec and its fingerprint under ``"dataset": {"spec", "fingerprint"}``, the training
    config under ``"training"``, GUI state under ``"gui"``, and the project name under
    ``"title"``. Runs were called experiments: ``"experiments": [{"id", "title", "created",
    "config", "state", "message", "metrics", "weights", "history"}]`` where ``weights`` and
    ``history`` name archive entries (``weights`` may be null), and the active run was
    ``"current_experiment"``. There was no ``"modified"`` and nothing was embedded.
1
    Schema 0 renamed and split into graph / data / train_config / runs / ui.
2
    Each run has ``"analyses"``, the explanations and fairness audits computed for it
    (schema 1 had none).
3
    The current layout, described by ``workbench.core.project.PROJECT_SCHEMA``: each run has
    ``"provenance"``, what is needed to re-derive its numbers (the sha256 of its weights, the
    split its metrics were measured on, seed, library versions). Runs from schema 2 get an
    empty one: ``workbench verify`` says what it cannot check for them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "MigrationError", "migrate", "migration"]

#: The schema version this application writes and reads natively.
SCHEMA_VERSION = 3

Migration = Callable[[dict[str, Any]], dict[str, Any]]

#: ``from_version -> function`` producing a document of ``from_version + 1``.
MIGRATIONS: dict[int, Migration] = {}


class MigrationError(ValueError):
    """A document cannot be upgraded; the message says why."""


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register ``func`` as the upgrade from ``from_version`` to ``from_version + 1``."""

    def register(func: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from schema {from_version} is already registered")
        MIGRATIONS[from_version] = func
        return func

    return register


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """Return ``doc`` upgraded to :data:`SCHEMA_VERSION` (a new dict; ``doc`` is untouched).

    Raises
    ------
    MigrationError
        When the version is not a whole number, is from the future, or has no migration.
    """
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MigrationError(f"schema_version must be a whole number, not {version!r}")
    if version > SCHEMA_VERSION:
        raise MigrationError(
            f"schema {version} is newer than this version reads (up to {SCHEMA_VERSION})"
        )
    out = copy.deepcopy(doc)
    while version < SCHEMA_VERSION:
        func = MIGRATIONS.get(version)
        if func is None:
            raise MigrationError(f"there is no upgrade from schema {version}")
        out = func(out)
        version += 1
        out["schema_version"] = version
    return out


def _rename(doc: dict[str, Any], old: str, new: str, default: Any = None) -> None:
    if old in doc:
        doc[new] = doc.pop(old)
    elif new not in doc and default is not None:
        doc[new] = default


@migration(0)
def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Pre-release layout -> schema 1: rename keys, split the dataset block, experiments -> runs."""
    _rename(doc, "title", "name", "Untitled")
    _rename(doc, "network", "graph")
    _rename(doc, "training", "train_config", {})
    _rename(doc, "gui", "ui", {})
    _rename(doc, "current_experiment", "active_run")
    doc.setdefault("active_run", None)
    dataset = doc.pop("dataset", None)
    if isinstance(dataset, dict):
        doc.setdefault("data", dataset.get("spec", {}))
        doc.setdefault("data_fingerprint", dataset.get("fingerprint", ""))
    elif dataset is not None:
        doc.setdefault("data", dataset)  # wrong shape: let the schema check name it
    doc.setdefault("data", {})
    doc.setdefault("data_fingerprint", "")
    doc.setdefault("app_version", "0.0.0")
    doc.setdefault("created", "")
    doc.setdefault("modified", doc["created"])
    doc.setdefault("embedded", [])
    experiments = doc.pop("experiments", [])
    if isinstance(experiments, list):
        runs: list[Any] = []
        for exp in experiments:
            if isinstance(exp, dict):
                exp = dict(exp)
                _rename(exp, "title", "name")
                _rename(exp, "state", "status", "completed")
                _rename(exp, "weights", "weights_file")
                _rename(exp, "history", "history_file")
                exp.setdefault("weights_file", None)
                exp.setdefault("message", "")
                exp.setdefault("metrics", {})
                exp.setdefault("config", {})
                # Schema 0 had one dataset per project and no per-run fingerprint.
                exp.setdefault("data_fingerprint", doc["data_fingerprint"])
            runs.append(exp)
        doc.setdefault("runs", runs)
    else:
        doc.setdefault("runs", experiments)
    return doc


@migration(1)
def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: runs gain an (empty) list of analyses."""
    runs = doc.get("runs")
    if isinstance(runs, list):
        for run in runs:
            if isinstance(run, dict):
                run.setdefault("analyses", [])
    return doc


@migration(2)
def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: runs gain an (empty) provenance."""
    runs = doc.get("runs")
    if isinstance(runs, list):
        for run in runs:
            if isinstance(run, dict):
                run.setdefault("provenance", {})
    return doc
