"""
Input images that are not URLs yet: content-addressed placeholders until they are uploaded.

A local file first stands in the request as ``https://uploads.invalid/sha256/<hex>.<ext>`` (the
``.invalid`` domain can never resolve), so the request validates and its idempotency key depends on
the file's content, not on the short-lived URL an upload returns. Just before submitting, each
placeholder is replaced by the URL of its upload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

PLACEHOLDER_PREFIX = "https://uploads.invalid/sha256/"


def placeholder_url(sha256: str, extension: str) -> str:
    """
    The stand-in URL of a file not uploaded yet.

    :param sha256: The file's SHA-256, hex.
    :param extension: Its extension (``png``...).
    """
    return f"{PLACEHOLDER_PREFIX}{sha256}.{extension}"


def is_url(value: Any) -> bool:
    """Whether an input is already an http(s) URL the API can fetch itself."""
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def map_inputs(
    values: Mapping[str, Any], paths: tuple[str, ...], change: Callable[[str, Any], Any]
) -> dict[str, Any]:
    """
    Return a copy of ``values`` in which every input image at ``paths`` went through ``change``.

    :param values: The request's fields, e.g. ``{"prompt": ..., "input_images": [...]}``.
    :param paths: Dotted paths of image inputs, e.g. ``input_images`` or ``model_params.image``;
        each holds one input or a list of them.
    :param change: Called with the input's field name (``input_images.1``) and its value.
    """
    result = dict(values)
    for path in paths:
        *parents, leaf = path.split(".")
        holder: Any = result
        for parent in parents:
            if not isinstance(holder.get(parent), Mapping):
                holder = None
                break
            holder[parent] = dict(holder[parent])
            holder = holder[parent]
        if holder is None or holder.get(leaf) is None:
            continue
        value = holder[leaf]
        if isinstance(value, (list, tuple)):
            holder[leaf] = [change(f"{path}.{i}", item) for i, item in enumerate(value)]
        else:
            holder[leaf] = change(path, value)
    return result


def substitute(body: Any, urls: Mapping[str, str]) -> Any:
    """
    Return ``body`` with every placeholder string replaced by its upload's URL.

    :param body: A JSON-like request body.
    :param urls: Placeholder -> uploaded URL.
    """
    if isinstance(body, str):
        return urls.get(body, body)
    if isinstance(body, Mapping):
        return {key: substitute(value, urls) for key, value in body.items()}
    if isinstance(body, list):
        return [substitute(value, urls) for value in body]
    return body
