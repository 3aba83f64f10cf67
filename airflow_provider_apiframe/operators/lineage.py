"""
What an Apiframe task reports to OpenLineage: the media it read, the files it wrote, its job facet.

The only module that imports OpenLineage (``apache-airflow-providers-openlineage``, the
``[openlineage]`` extra). The operators and the sensor import it inside their
``get_openlineage_facets_on_complete``, which only the OpenLineage listener calls: without the
provider nothing imports it and nothing changes.

Inputs are the media as the DAG author gave them (local paths, ``ObjectStoragePath`` s, http(s)
URLs), never the short-lived URLs of their uploads; outputs are the files written. The facet
(``apiframe_job``) names the job(s), model(s) and credits, never the API key, and the prompt only
with ``lineage_prompt=True``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.sdk import ObjectStoragePath
from attrs import define, field
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.core.catalog import MODELS
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.core.inputs import map_inputs
from airflow_provider_apiframe.operators.batch_files import MANIFEST, input_path, read_items, read_lines
from airflow_provider_apiframe.storage import as_storage_path

if TYPE_CHECKING:
    from airflow_provider_apiframe.operators.base import ApiframeJobOperator
    from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
    from airflow_provider_apiframe.sensors.job import ApiframeJobSensor

#: The run facet's name in an event's ``run.facets``.
FACET = "apiframe_job"
#: The facet's JSON Schema (shipped beside this module as ``ApiframeJobRunFacet.json``).
SCHEMA_URL = (
    "https://raw.githubusercontent.com/apiframe/airflow-provider-apiframe/"
    f"v{__version__}/airflow_provider_apiframe/operators/ApiframeJobRunFacet.json"
    "#/$defs/ApiframeJobRunFacet"
)
#: A batch lists at most this many job ids, input URLs and prompts (its manifest has them all).
MAX_LISTED = 100
#: What ``get_openlineage_facets_on_complete`` returns.
Lineage = OperatorLineage[Dataset, RunFacet]


@define
class ApiframeJobRunFacet(RunFacet):
    """
    The Apiframe job(s) a task ran: never the API key; the prompt only if the task opted in.

    :param jobIds: The job's id; a batch's first :data:`MAX_LISTED` (its manifest has them all).
    :param models: The models, each once.
    :param status: The job's status (``None`` for a batch, or when no job ended).
    :param credits: Credits spent (a batch: all its items).
    :param estimatedCredits: The worst case worked out before submitting (with ``max_credits``;
        a batch: always, unless an item's model has no price).
    :param batch: A batch's counts: ``items``, ``completed``, ``failed``, ``skipped``.
    :param prompts: The prompt(s), only with ``lineage_prompt=True``.
    """

    # OpenLineage facets name their fields in camelCase.
    jobIds: list[str] = field(factory=list)
    models: list[str] = field(factory=list)
    status: str | None = None
    credits: float | None = None
    estimatedCredits: float | None = None
    batch: dict[str, int] | None = None
    prompts: list[str] | None = None

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def dataset(location: Any) -> Dataset | None:
    """
    The OpenLineage dataset of a file or folder: a local path, a URL or an ``ObjectStoragePath``.

    Local files are ``file`` and their absolute path; object stores ``<scheme>://<bucket>`` and
    the key; http(s) URLs ``<scheme>://<host>`` and the path. Credentials (``user:password@``, a
    connection id), query strings (signatures) and fragments are left out.

    :param location: Where (anything else gives ``None``).
    """
    if isinstance(location, ObjectStoragePath):
        text = str(location)
    elif isinstance(location, (str, os.PathLike)):
        text = os.fspath(location)
    else:
        return None
    if not text:
        return None
    if "://" not in text:
        return Dataset(namespace="file", name=os.path.abspath(text))
    parts = urlsplit(text)
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme in ("file", "local"):
        return Dataset(namespace=f"file://{host}" if host else "file", name=parts.path or "/")
    if parts.scheme in ("http", "https"):
        return Dataset(namespace=f"{parts.scheme}://{host}", name=parts.path or "/")
    key = parts.path.strip("/")
    return Dataset(namespace=f"{parts.scheme}://{host}" if host else parts.scheme, name=key or "/")


def datasets(locations: Iterable[Any]) -> list[Dataset]:
    """
    The datasets of ``locations``, each once, in order.

    :param locations: Files or folders, as :func:`dataset` takes them.
    """
    found: dict[tuple[str, str], Dataset] = {}
    for location in locations:
        if (ds := dataset(location)) is not None:
            found.setdefault((ds.namespace, ds.name), ds)
    return list(found.values())


def media_inputs(values: Mapping[str, Any], paths: Iterable[tuple[str, Any]]) -> list[Any]:
    """
    The input media of a request as given: the values at ``paths`` (``media_input_paths``).

    :param values: The request's values (``request_values()``), before any upload.
    :param paths: Dotted paths of its media values, each with its kind.
    """
    found: list[Any] = []

    def keep(_field: str, value: Any) -> Any:
        found.append(value)
        return value

    map_inputs(values, tuple(path for path, _kind in paths), keep)
    return found


def job_lineage(task: ApiframeJobOperator, task_instance: Any = None) -> Lineage:
    """
    A job operator's lineage: its input media, the files it saved, its job.

    :param task: The operator, after its ``execute`` or ``execute_complete`` (possibly failed).
    :param task_instance: The task instance (unused: the operator remembers its result).
    """
    values = task.request_values()
    prompt = values.get("prompt")
    if prompt is None and isinstance(values.get("model_params"), Mapping):
        prompt = values["model_params"].get("prompt")
    return _lineage(
        task.last_result,
        inputs=datasets(media_inputs(values, task.media_input_paths)),
        model=getattr(task, "model", None),
        estimated=task.estimated_credits,
        prompt=prompt if task.lineage_prompt and isinstance(prompt, str) else None,
        job_id=getattr(task, "job_id", None),  # the job, even when it did not end (not waited for)
    )


def sensor_lineage(task: ApiframeJobSensor, task_instance: Any = None) -> Lineage:
    """
    The sensor's lineage: the files it saved and the job (its inputs are another task's).

    :param task: The sensor, after it ended.
    :param task_instance: The task instance (unused).
    """
    return _lineage(task.last_result, inputs=[], job_id=task.job_id)


def _lineage(
    result: Mapping[str, Any] | None,
    *,
    inputs: list[Dataset],
    model: str | None = None,
    estimated: float | None = None,
    prompt: str | None = None,
    job_id: str | None = None,
) -> Lineage:
    """One job's lineage from its result (``None`` when it did not end well)."""
    result = result or {}
    job_id = result.get("job_id") or job_id
    model = result.get("model") or model
    facet = ApiframeJobRunFacet(
        jobIds=[job_id] if job_id else [],
        models=[model] if model else [],
        status=result.get("status"),
        credits=result.get("credit_cost"),
        estimatedCredits=result.get("estimated_credits", estimated),
        prompts=None if prompt is None else [prompt],
    )
    outputs = datasets(file["path"] for file in result.get("files") or [])
    return Lineage(inputs=inputs, outputs=outputs, run_facets={FACET: facet})


def batch_lineage(task: ApiframeBatchOperator, task_instance: Any = None) -> Lineage:
    """
    A batch's lineage: its items' file and input URLs, its output folder and manifest, its jobs.

    The items are read again, one at a time (for their models, media URLs and prompts), and the
    manifest for the first :data:`MAX_LISTED` job ids.

    :param task: The batch operator, after it ended (possibly failed).
    :param task_instance: The task instance (unused).
    """
    result: Mapping[str, Any] = task.last_result or {}
    models: dict[str, None] = {}
    urls: dict[str, None] = {}
    prompts: list[str] = []
    source = None
    try:
        source = input_path(task.requests)
        for raw in read_items(task.requests):
            model, media, prompt = _item_lineage(raw)
            if model:
                models.setdefault(model, None)
            for url in media:
                if len(urls) < MAX_LISTED:
                    urls.setdefault(url, None)
            if task.lineage_prompt and prompt is not None and len(prompts) < MAX_LISTED:
                prompts.append(prompt)
    except ApiframeError:  # the requests could not be read (or not all): the task failed on them too
        pass
    outputs: list[Any] = []
    job_ids: list[str] = []
    if result:
        target = as_storage_path(task.output_path, task.output_conn_id)
        manifest = result.get("manifest") or target / MANIFEST
        outputs = [target, manifest]
        lines = read_lines(as_storage_path(manifest, task.output_conn_id))
        with_ids = (line["job_id"] for line in lines if line.get("job_id"))
        job_ids = list(itertools.islice(with_ids, MAX_LISTED))
    facet = ApiframeJobRunFacet(
        jobIds=job_ids,
        models=list(models),
        credits=result.get("credits"),
        estimatedCredits=result.get("estimated_credits"),
        batch={k: result[k] for k in ("items", "completed", "failed", "skipped") if k in result} or None,
        prompts=prompts if task.lineage_prompt else None,
    )
    return Lineage(inputs=datasets([source, *urls]), outputs=datasets(outputs), run_facets={FACET: facet})


def _item_lineage(raw: Any) -> tuple[str | None, list[str], str | None]:
    """An item's model, its input media URLs (a batch's inputs are URLs) and its prompt."""
    if not isinstance(raw, Mapping):
        return None, [], None
    model = raw.get("model") if isinstance(raw.get("model"), str) else None
    params: Mapping[str, Any] = raw["model_params"] if isinstance(raw.get("model_params"), Mapping) else {}
    spec = MODELS.get(model) if model else None
    media = media_inputs(params, spec.media_fields) if spec else []
    prompt = raw.get("prompt") or params.get("prompt")
    return model, [url for url in media if isinstance(url, str)], prompt if isinstance(prompt, str) else None
