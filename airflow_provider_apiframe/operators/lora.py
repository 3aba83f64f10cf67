"""Train a Flux LoRA from a folder or a list of images, safely across retries, and wait for it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_apiframe.core import clock, loras
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.inputs import is_url
from airflow_provider_apiframe.core.loras import LORA_UNUSABLE, Lora
from airflow_provider_apiframe.core.validation import Problems, check_duration
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.hooks.resources import LORA_POLL_INTERVAL
from airflow_provider_apiframe.operators.deferral import meant_for_another_try
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input
from airflow_provider_apiframe.storage import as_storage_path
from airflow_provider_apiframe.triggers.lora import ApiframeLoraTrigger, LoraEvent

if TYPE_CHECKING:
    from airflow.sdk import Context

#: File names a folder of training images is read for (a GIF among them is refused, not skipped).
FOLDER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
#: Longest name a DAG author may give: the retry marker takes the rest of the API's 60 characters.
MAX_NAME_LENGTH = loras.MAX_NAME_LENGTH - loras.MARKER_LENGTH
FIELDS = ("subject_kind", "gender", "ethnicity", "age", "steps", "lora_rank", "webhook_url", "webhook_events")


class ApiframeLoraTrainOperator(BaseOperator):
    """
    Train a Flux LoRA (``POST /v2/loras``, 2 credits) and wait until it is READY; return it.

    Everything is checked before any HTTP call: 15 to 30 images, PNG, JPEG or WebP by their bytes,
    10 MB each and 100 MB in all, and every field; each refusal names the argument. The result is
    ``{"lora_id", "name", "status", "trigger_word", "image_count"}``; ``lora_id`` is also pushed under
    its own key as soon as the LoRA exists. Use it as ``fluxLoraParams.loraId`` of a ``flux-lora`` job.

    Retries never train (and pay) twice. The route takes no ``Idempotency-Key``, so the LoRA is
    named ``<name> ~<marker>``: 8 hex digits of a hash of the DAG, task, run, map index and the
    request (the images by content). Before training, the team's LoRAs are listed and one with
    that exact name is re-attached to, unless it FAILED or was archived (then it trains again).
    If the ``POST`` fails without an answer (a timeout, a ``5xx``), the list is read again before
    giving up.

    :param name: The LoRA's name (templated), 1 to 50 characters (the marker takes 10 more).
    :param images: The training images (templated): a folder (its PNG, JPEG, WebP files, sorted by
        name), or a list of local paths, ``file://`` URLs, ``ObjectStoragePath`` s or http(s) URLs
        (downloaded first).
    :param subject_kind: ``person`` (the API's default), ``style`` or ``object`` (templated).
    :param gender: ``female``, ``male`` or ``non-binary``; required for a person (templated).
    :param ethnicity: 1 to 40 characters; required for a person (templated).
    :param age: 1 to 40 characters (templated).
    :param steps: Training steps, 500 to 3000 (templated).
    :param lora_rank: 8 to 64 (templated).
    :param webhook_url: Where the API POSTs training events (templated).
    :param webhook_events: Which events: ``progress``, ``completed``, ``failed`` (templated).
    :param apiframe_conn_id: The Apiframe connection.
    :param deferrable: Wait in the triggerer (default) rather than in the worker.
    :param poll_interval: Longest wait between two polls, in seconds (polls start at 2 s).
    :param timeout: Seconds, from the start of the task, before the wait fails with a timeout;
        training goes on at Apiframe, and clearing the task re-attaches to it.
    :param wait_for_completion: ``False`` returns as soon as training is queued.
    """

    template_fields: Sequence[str] = ("name", "images", *FIELDS)
    ui_color = "#f3e8fd"

    def __init__(
        self,
        *,
        name: str,
        images: str | os.PathLike[str] | ObjectStoragePath | Sequence[Any],
        subject_kind: str | None = None,
        gender: str | None = None,
        ethnicity: str | None = None,
        age: str | None = None,
        steps: int | str | None = None,
        lora_rank: int | str | None = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        deferrable: bool = True,
        poll_interval: float | timedelta = LORA_POLL_INTERVAL,
        timeout: float | timedelta = 3 * 3600.0,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.images = images
        self.subject_kind = subject_kind
        self.gender = gender
        self.ethnicity = ethnicity
        self.age = age
        self.steps = steps
        self.lora_rank = lora_rank
        self.webhook_url = webhook_url
        self.webhook_events = webhook_events
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = check_duration("poll_interval", poll_interval)
        self.timeout = check_duration("timeout", timeout)
        self.wait_for_completion = wait_for_completion

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Check, read the images, find or train the LoRA, then wait (deferred or not) and return it."""
        deadline = clock.now() + self.timeout
        with fail_fast_on_bad_input():
            images, fields = self._checked_request()
            lora = self._find_or_train(images, fields, context, deadline)
        context["ti"].xcom_push(key="lora_id", value=lora.id)
        if lora.is_terminal or not self.wait_for_completion:
            return self.finish(lora)
        if self.deferrable:
            trigger = ApiframeLoraTrigger(
                lora.id,
                deadline=deadline,
                apiframe_conn_id=self.apiframe_conn_id,
                poll_interval=self.poll_interval,
                deferred_on_try=context["ti"].try_number,
            )
            self.defer(trigger=trigger, method_name="execute_complete", timeout=None)
        lora = self.hook.wait_for_lora(
            lora.id, timeout=deadline - clock.now(), poll_interval=self.poll_interval
        )
        return self.finish(lora)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger fired: return the LoRA, or fail with the trigger's reason.

        :param event: The trigger's event.
        """
        parsed = LoraEvent.parse(event)
        if meant_for_another_try(self, context, parsed.deferred_on_try):
            return self.execute(context)
        if parsed.lora is not None:
            return self.finish(Lora.model_validate(parsed.lora))
        if parsed.status == "timeout":
            raise ApiframeJobTimeoutError(parsed.message, job_id=parsed.lora_id)
        raise ApiframeError(parsed.message)

    def finish(self, lora: Lora) -> dict[str, Any]:
        """
        The result of a LoRA; fail if its training FAILED or it was archived.

        :param lora: The LoRA, as last read.
        """
        if lora.status in LORA_UNUSABLE:
            raise ApiframeJobError(
                f"Apiframe LoRA {lora.id} ({lora.name}) ended {lora.status}: "
                f"{lora.error or 'the API gave no reason'}. Its credits are refunded; a retry trains again.",
                job_id=lora.id,
            )
        return {
            "lora_id": lora.id,
            "name": lora.name,
            "status": lora.status,
            "trigger_word": lora.trigger_word,
            "image_count": lora.image_count,
        }

    # --- the request -------------------------------------------------------------------------------

    def _checked_request(self) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
        """The images read and the fields, every one checked; nothing is sent to the API."""
        problems = Problems()
        if isinstance(self.name, str) and len(self.name) > MAX_NAME_LENGTH:
            problems.add(
                "name",
                f"got {len(self.name)} characters; allowed: 1 to {MAX_NAME_LENGTH} (the operator adds "
                f"' ~' and 8 hex digits, a retry marker, within the API's {loras.MAX_NAME_LENGTH})",
            )
        fields = {field: getattr(self, field) for field in FIELDS}
        loras.lora_form(name=self.name, image_count=loras.MIN_IMAGES, problems=problems, **fields)
        problems.raise_if_any()  # before reading or downloading anything
        images = self._read_images(problems)
        loras.check_training_images(images, problems)
        problems.raise_if_any()
        return images, fields

    def _read_images(self, problems: Problems) -> list[tuple[str, bytes]]:
        """Read every image: a folder's files sorted by name, or each item of a list."""
        if isinstance(self.images, (str, os.PathLike, ObjectStoragePath)) and not is_url(self.images):
            folder = _path(self.images, problems, "images")
            if folder is None:
                return []
            if not folder.is_dir():
                problems.add(
                    "images", f"got {str(self.images)!r}, which is not a folder; allowed: a folder or a list"
                )
                return []
            entries = folder.iterdir()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in 3.1
            files = sorted(
                (p for p in entries if p.is_file() and p.name.lower().endswith(FOLDER_EXTENSIONS)),
                key=lambda p: p.name,
            )
            return [
                image for n, p in enumerate(files) if (image := self._read_one(p, f"images[{n}]", problems))
            ]
        if isinstance(self.images, (str, bytes)) or not isinstance(self.images, Sequence):
            problems.add("images", f"got {type(self.images).__name__}; allowed: a folder or a list of images")
            return []
        return [
            image
            for n, item in enumerate(self.images)
            if (image := self._read_one(item, f"images[{n}]", problems))
        ]

    def _read_one(self, item: Any, field: str, problems: Problems) -> tuple[str, bytes] | None:
        """One image's name and bytes (a URL is downloaded), or ``None`` with a problem recorded."""
        if is_url(item):
            return self._download(str(item), field, problems)
        path = _path(item, problems, field)
        if path is None:
            return None
        try:
            size = path.stat().st_size if path.is_file() else None
            if size is None:
                problems.add(field, f"got {str(item)!r}, which does not exist or is not a file")
            elif size > loras.MAX_IMAGE_BYTES:
                problems.add(field, f"got {str(item)!r}: {size / 2**20:.1f} MB; allowed: at most 10 MB")
            else:
                return path.name, path.read_bytes()
        except OSError as exc:
            problems.add(field, f"got {str(item)!r} ({exc})")
        return None

    def _download(self, url: str, field: str, problems: Problems) -> tuple[str, bytes] | None:
        buffer = io.BytesIO()

        @contextlib.contextmanager
        def into_memory(_: str) -> Iterator[BinaryIO]:
            buffer.seek(0)
            buffer.truncate()
            yield buffer

        try:
            self.hook.download_result(url, into_memory)
        except ApiframeError as exc:
            problems.add(field, f"got {url!r}, which could not be downloaded as an image: {exc}")
            return None
        return urlsplit(url).path.rsplit("/", 1)[-1] or "image", buffer.getvalue()

    # --- train, or re-attach -----------------------------------------------------------------------

    def _find_or_train(
        self, images: list[tuple[str, bytes]], fields: dict[str, Any], context: Context, deadline: float
    ) -> Lora:
        """The LoRA an earlier try of this task instance trained, else a new one."""
        ti = context["ti"]
        form = loras.lora_form(name=self.name, image_count=len(images), problems=Problems(), **fields)
        marker = loras.retry_marker(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if ti.map_index is None else ti.map_index,
            form=form,
            image_digests=[hashlib.sha256(data).hexdigest() for _, data in images],
        )
        name = loras.marked_name(self.name, marker)
        found = self._reattach(name)
        if found is not None:
            return found
        try:
            created = self.hook.create_lora(images, deadline=deadline, name=name, **fields)
        except ApiframeError as exc:
            if not exc.transient or (found := self._reattach(name)) is None:
                raise
            return found
        self.log.info("Training Apiframe LoRA %s (%s) from %d images", created.id, name, created.image_count)
        return Lora.model_validate(
            {"id": created.id, "name": name, "status": created.status, "imageCount": created.image_count}
        )

    def _reattach(self, name: str) -> Lora | None:
        """The newest usable LoRA named ``name``, if any."""
        for lora in self.hook.find_loras(name):
            if lora.status not in LORA_UNUSABLE:
                self.log.info(
                    "Re-attaching to Apiframe LoRA %s (%s), %s: no new training", lora.id, name, lora.status
                )
                return lora
            self.log.info(
                "Apiframe LoRA %s (%s) ended %s (%s); training again", lora.id, name, lora.status, lora.error
            )
        return None


def _path(location: Any, problems: Problems, field: str) -> ObjectStoragePath | None:
    """``location`` as a storage path, or ``None`` with a problem recorded."""
    if not isinstance(location, (str, os.PathLike, ObjectStoragePath)) or not str(location).strip():
        problems.add(
            field,
            f"got {location!r}; allowed: a local path, a file:// URL, an ObjectStoragePath or an http(s) URL",
        )
        return None
    try:
        return as_storage_path(location)
    except (OSError, ValueError) as exc:
        problems.add(field, f"got {str(location)!r} ({exc})")
        return None


__all__ = ["ApiframeLoraTrainOperator"]
