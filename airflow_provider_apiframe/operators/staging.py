"""
Input media that are not URLs: read and checked before the request is built, uploaded just before it is sent.

Until the upload, each stands in the request as a content-addressed placeholder (see
:mod:`~airflow_provider_apiframe.core.inputs`), so that the request validates and its idempotency
key depends on the files' content.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core.inputs import is_url, map_inputs, placeholder_url, substitute
from airflow_provider_apiframe.core.validation import Problems
from airflow_provider_apiframe.storage import LocalFile, read_input_media

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.media import Kind
    from airflow_provider_apiframe.core.models import JobAccepted
    from airflow_provider_apiframe.core.retry import Logger
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook


def stage_inputs(
    values: dict[str, Any], paths: tuple[tuple[str, Kind], ...]
) -> tuple[dict[str, Any], dict[str, LocalFile]]:
    """
    Read the inputs that are not URLs (checking them) and stand content-addressed placeholders in.

    :param values: The request's values.
    :param paths: Dotted paths, within ``values``, of the input media, each with the kind it takes.
    :return: The values with placeholders, and the files read, by placeholder.
    :raises ApiframeInvalidParamsError: Naming every input that cannot be used.
    """
    local: dict[str, LocalFile] = {}
    problems = Problems()

    def stager(kind: Kind) -> Any:
        def stage(field: str, value: Any) -> Any:
            if is_url(value):
                return value
            try:
                file = read_input_media(value, kind)
            except ValueError as exc:
                problems.add(field, str(exc))
                return value
            url = placeholder_url(file.sha256, file.extension)
            local[url] = file
            return url

        return stage

    staged = values
    for path, kind in paths:
        staged = map_inputs(staged, (path,), stager(kind))
    problems.raise_if_any()
    return staged, local


def upload_inputs(
    hook: ApiframeHook, call: ApiCall[JobAccepted], local_files: dict[str, LocalFile], log: Logger
) -> ApiCall[JobAccepted]:
    """
    Upload the staged files and put the URLs of their uploads in place of their placeholders.

    :param hook: The hook that uploads.
    :param call: The job-creating call, with placeholders.
    :param local_files: The files read, by placeholder.
    :param log: Where to say how many were uploaded.
    """
    uploaded = {
        placeholder: hook.upload_file(file.name, file.data, file.content_type).url
        for placeholder, file in local_files.items()
    }
    if not uploaded:
        return call
    log.info("Uploaded %d input file(s)", len(uploaded))
    return dataclasses.replace(call, json=substitute(call.json, uploaded))
