"""
The files of a batch: what it reads, what it writes.

Its input is a list, or a ``.jsonl`` / ``.csv`` file read line by line; beside its results it
writes JSON Lines (the submissions, the manifest).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_apiframe.core.batch import read_csv_rows, read_jsonl
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.storage import as_storage_path

#: The file, beside the results, that lists every item as it was submitted (read on resuming).
SUBMISSIONS = "_submissions.jsonl"
#: The file, beside the results, with one line per item: key, job id, status, credits, files, error.
MANIFEST = "manifest.jsonl"
_READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def input_path(requests: Any) -> ObjectStoragePath | None:
    """
    The file the items are read from, checked; ``None`` when ``requests`` is a list.

    :param requests: The operator's ``requests``: a list of items, or a path to a ``.jsonl`` or ``.csv``.
    :raises ApiframeInvalidParamsError: Neither, or a file that does not exist.
    """
    if isinstance(requests, (list, tuple)):
        return None
    allowed = "a list of items, or a .jsonl or .csv file (a path or an ObjectStoragePath)"
    if not isinstance(requests, (str, ObjectStoragePath)) or not str(requests):
        raise ApiframeInvalidParamsError([("requests", f"got {type(requests).__name__}; allowed: {allowed}")])
    path = as_storage_path(requests, None)
    if path.suffix.lower() not in _READERS:
        raise ApiframeInvalidParamsError([("requests", f"got {str(requests)!r}; allowed: {allowed}")])
    if not path.exists():
        raise ApiframeInvalidParamsError([("requests", f"{str(requests)!r} does not exist")])
    return path


def read_items(requests: Any) -> Iterator[Any]:
    """
    The items of ``requests``, one at a time (a file is streamed, never read whole).

    :param requests: A list of items, or a path to a ``.jsonl`` or ``.csv`` file.
    """
    path = input_path(requests)
    if path is None:
        yield from requests
        return
    with path.open("r", encoding="utf-8", newline="") as source:  # type: ignore[no-untyped-call]
        lines = _lines(source)
        if _READERS[path.suffix.lower()] == "csv":
            yield from read_csv_rows(csv.DictReader(lines), str(path))
        else:
            yield from read_jsonl(lines, str(path))


class LinesWriter:
    """
    Write JSON Lines to a file of the output folder, one line at a time.

    :param path: The file.
    """

    def __init__(self, path: ObjectStoragePath):
        self.path = path
        self._sink: IO[str] = path.open("w", encoding="utf-8")  # type: ignore[no-untyped-call]

    def __call__(self, line: Mapping[str, Any]) -> None:
        """Write one line."""
        self._sink.write(json.dumps(line, separators=(",", ":")) + "\n")

    def close(self) -> None:
        """Finish the file."""
        self._sink.close()


def read_lines(path: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    """
    The lines of a JSON Lines file this operator wrote, one at a time; none if it does not exist.

    :param path: The file.
    """
    if not path.exists():
        return
    with path.open("r", encoding="utf-8") as source:  # type: ignore[no-untyped-call]
        for line in _lines(source):
            if line.strip():
                yield json.loads(line)


def earlier_tries(target: ObjectStoragePath) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """
    What earlier tries left in the output folder, by item key: what completed, what was submitted.

    The items completed and saved come from the manifest. The jobs submitted whose results may still
    come come from ``_submissions.jsonl`` (not those the manifest shows completed, or ended FAILED or
    CANCELLED, uncharged): that file is the batch's record of its job ids, so a retry re-attaches to
    them however old their idempotency keys are. (Airflow's task state store holds 64 KB a value by
    default, a few hundred items: too small for a catalogue.)

    :param target: The output folder.
    """
    completed: dict[str, dict[str, Any]] = {}
    ended: set[str] = set()
    for line in read_lines(target / MANIFEST):
        if line.get("status") == "COMPLETED" and not line.get("error") and line.get("job_id"):
            completed[line["key"]] = line
        elif line.get("status") in ("FAILED", "CANCELLED"):
            ended.add(line["key"])
    submitted = {
        line["key"]: line
        for line in read_lines(target / SUBMISSIONS)
        if line.get("job_id") and line["key"] not in completed and line["key"] not in ended
    }
    return completed, submitted


def _lines(source: IO[str]) -> Iterator[str]:
    """A file's lines, one at a time: Airflow 3.1.0's ``ObjectStoragePath`` files cannot be iterated."""
    return iter(source.readline, "")
