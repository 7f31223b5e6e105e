"""The datasheet of a project's data: headless, shared by ``workbench datasheet``, the Data
dock and the audit report.

:func:`project_datasheet` prepares the project's data exactly as training does (from its
embedded copy, checking the recorded fingerprint), reads the raw table beside it, and returns
:func:`engines.data.compute_datasheet`'s result as a JSON-ready dict. See
:mod:`engines.data.datasheet` for what is computed and every threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.core.project import Project

__all__ = ["datasheet_of", "project_datasheet"]


def datasheet_of(
    data: Any,
    source: bytes | None,
    *,
    title: str | None = None,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The datasheet of prepared data and the bytes it came from, as a JSON-ready dict.

    ``source`` is what :func:`~engines.data.prepare` was given (None for a built-in or to read
    the file again); the raw table is read from it for tables. ``title`` names the dataset
    (default: a built-in's title, else the file's name).
    """
    from engines.data import compute_datasheet, read_frame

    frame = read_frame(data.spec, source) if data.kind == "table" else None
    sheet = compute_datasheet(data, frame, seed=seed, progress=progress, cancel=cancel)
    result: dict[str, Any] = sheet.to_dict()
    result["title"] = title or _title(data.spec.to_dict())
    return result


def project_datasheet(
    project: Project,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The datasheet of ``project``'s data: ``Datasheet.to_dict()`` plus its ``title``.

    Raises
    ------
    engines.data.DataError
        The data spec or the data cannot be read.
    workbench.core.session.WorkbenchError
        The data no longer matches the fingerprint the project recorded.
    """
    from workbench.core.session import load_data

    data = load_data(project)
    source = next((v for k, v in project.embedded.items() if k.startswith("data/source")), None)
    return datasheet_of(data, source, seed=seed, progress=progress, cancel=cancel)


def _title(spec: dict[str, Any]) -> str:
    """The dataset's name as a user knows it: a built-in's title, else the file's name."""
    from pathlib import Path

    if spec.get("source") == "builtin":
        from engines.data import list_datasets

        for info in list_datasets():
            if info.id == spec.get("name"):
                return info.title
        return str(spec.get("name") or "data")
    return Path(str(spec.get("path") or "data")).name
