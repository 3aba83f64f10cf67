"""Follow-up actions on a finished job: Midjourney's (upsample, variation, inpaint...) and Suno's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.catalog import ACTIONS, MIDJOURNEY_ACTION, SUNO_ACTION
from airflow_provider_apiframe.operators.base import ApiframeJobOperator

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted


class ApiframeActionOperator(ApiframeJobOperator):
    """
    Run one follow-up action on a finished job of this operator's route (see the subclasses).

    The parent is given by its job id, typically an upstream task's result:
    ``parent_job_id=grid.output["job_id"]``, ``"{{ ti.xcom_pull('grid', key='job_id') }}"``, or the
    upstream result itself (``parent_job_id=grid.output``). The action's fields are checked against
    the contract's alternative for ``action`` before anything is sent; refusals name the fields as
    this operator's arguments (``index``, ``zoom_ratio``, ``parent_job_id``).

    :param action: The action (templated).
    :param parent_job_id: The job acted on (templated); a task's result dict gives its ``job_id``.
    :param prompt: The prompt, for the actions that take one (templated).
    :param webhook_url: http(s) URL the API POSTs job events to (templated).
    :param webhook_events: Events to POST: ``"progress"``, ``"completed"``, ``"failed"`` (templated).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`.
    """

    #: The route this operator submits to.
    route: ClassVar[str]
    #: This operator's action arguments, by the name the API gives each.
    api_names: ClassVar[Mapping[str, str]] = {}
    template_fields: Sequence[str] = (
        "action",
        "parent_job_id",
        "prompt",
        "webhook_url",
        "webhook_events",
        *ApiframeJobOperator.template_fields,
    )

    def __init__(
        self,
        *,
        action: str,
        parent_job_id: str | Mapping[str, Any],
        prompt: str | None = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.parent_job_id = parent_job_id
        self.prompt = prompt
        self.webhook_url = webhook_url
        self.webhook_events = webhook_events

    def request_values(self) -> dict[str, Any]:
        """The rendered arguments, the action's fields under the API's names."""
        parent: Any = self.parent_job_id
        if isinstance(parent, Mapping):  # an upstream job operator's whole result
            parent = parent.get("job_id")
        params: dict[str, Any] = {"action": self.action, "parentJobId": parent}
        for name, api_name in self.api_names.items():
            value = getattr(self, name)
            # A templated number renders as text ("3"): the contract wants the number.
            params[api_name] = int(value) if isinstance(value, str) and value.isdigit() else value
        return {
            "prompt": self.prompt,
            "model_params": params,
            "webhook_url": self.webhook_url,
            "webhook_events": self.webhook_events,
            "idempotency_key": self.idempotency_key,
        }

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """Validate and build the action on :attr:`route`."""
        return calls.create_job(ACTIONS[self.route].model, route=self.route, **values)


class ApiframeMidjourneyActionOperator(ApiframeActionOperator):
    """
    Act on a finished Midjourney job (``POST /v2/images/midjourney/action``).

    ``upsample`` and ``variation`` pick image ``index`` (1-4) of a grid; ``inpaint`` (a base64
    ``mask`` and an optional ``prompt``), ``outpaint`` (``zoom_ratio`` 1.5 or 2) and ``pan``
    (``direction``) act on an upsampled image. An upsample makes one image; the other actions a
    new 4-image grid, which can be acted on again.

    .. code-block:: python

        grid = ApiframeImageGenerateOperator(task_id="grid", model="midjourney", prompt="...")
        best = ApiframeMidjourneyActionOperator(
            task_id="upsample", action="upsample", index=2, parent_job_id=grid.output["job_id"]
        )

    :param index: Which image of the grid, 1-4 (templated).
    :param mask: For ``inpaint``: the region to redraw, a base64-encoded image.
    :param zoom_ratio: For ``outpaint``: 1.5 or 2.
    :param direction: For ``pan``: ``up``, ``down``, ``left`` or ``right``.
    :param kwargs: See :class:`ApiframeActionOperator`.
    """

    route = MIDJOURNEY_ACTION
    api_names = {"index": "index", "mask": "mask", "zoom_ratio": "zoomRatio", "direction": "direction"}
    template_fields: Sequence[str] = (*ApiframeActionOperator.template_fields, "index", "direction")

    def __init__(
        self,
        *,
        index: int | str | None = None,
        mask: str | None = None,
        zoom_ratio: float | None = None,
        direction: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.mask = mask
        self.zoom_ratio = zoom_ratio
        self.direction = direction


class ApiframeSunoActionOperator(ApiframeActionOperator):
    """
    Act on a finished Suno job (``POST /v2/music/suno/action``): extend, cover, add_vocals, stems.

    Each action picks one of the parent's two tracks by ``index`` (1-2) or ``track_id``. Extend,
    cover and add_vocals make a new pair of tracks; stems makes two plain files (vocals and
    instrumental) that take no further action.

    :param index: Which track, 1 or 2 (templated).
    :param track_id: Which track, by its id in the parent's ``result.tracks`` (templated).
    :param continue_at: For ``extend``: the second to continue from.
    :param audio_weight: For ``cover``: how closely to follow the source, 0-1.
    :param title: Overrides the parent's title.
    :param style: Overrides the parent's style.
    :param negative_tags: Styles to avoid.
    :param kwargs: See :class:`ApiframeActionOperator` (``prompt``: the lyrics for ``add_vocals``).
    """

    route = SUNO_ACTION
    api_names = {
        "index": "index",
        "track_id": "trackId",
        "continue_at": "continueAt",
        "audio_weight": "audio_weight",
        "title": "title",
        "style": "style",
        "negative_tags": "negative_tags",
    }
    template_fields: Sequence[str] = (
        *ApiframeActionOperator.template_fields,
        "index",
        "track_id",
        "title",
        "style",
    )

    def __init__(
        self,
        *,
        index: int | str | None = None,
        track_id: str | None = None,
        continue_at: float | None = None,
        audio_weight: float | None = None,
        title: str | None = None,
        style: str | None = None,
        negative_tags: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.track_id = track_id
        self.continue_at = continue_at
        self.audio_weight = audio_weight
        self.title = title
        self.style = style
        self.negative_tags = negative_tags
