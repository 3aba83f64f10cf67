"""The operator of any model's job: the model's parameters as given, checked against the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.catalog import GENERATE, MODELS
from airflow_provider_apiframe.operators.base import ApiframeJobOperator

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.media import Kind
    from airflow_provider_apiframe.core.models import JobAccepted


class ApiframeModelJobOperator(ApiframeJobOperator):
    """
    Run one job of any model (image, video, music) on this operator's route (see the subclasses).

    The model's parameters go, as given (those set to ``None`` left out), under its
    ``<family>Params`` key (``fluxParams``, ``klingParams``, ``sunoParams``...). Every family's
    parameters are checked against the contract before anything is sent, each refused one named
    ``model_params.<field>``.
    Input media among the parameters (``image``, ``start_image``, ``input_images``, ``video``,
    ``audio``...) may be URLs, local paths or ``ObjectStoragePath`` s; the others are checked
    (of the kind the parameter takes) and uploaded first.

    :param model: The model, e.g. ``flux-2-pro`` or ``kling-2.6`` (templated).
    :param model_params: The model's parameters (templated). Named so because ``params`` is
        Airflow's own (DAG params), which Airflow merges into any argument of that name.
    :param prompt: The prompt, on routes that take one at the top (generation); templated.
    :param webhook_url: http(s) URL the API POSTs job events to (templated).
    :param webhook_events: Events to POST: ``"progress"``, ``"completed"``, ``"failed"`` (templated).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`.
    """

    #: The route this operator submits to.
    route: ClassVar[str] = GENERATE
    template_fields: Sequence[str] = (
        "model",
        "prompt",
        "model_params",
        "webhook_url",
        "webhook_events",
        *ApiframeJobOperator.template_fields,
    )

    def __init__(
        self,
        *,
        model: str,
        model_params: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.model_params = model_params
        self.prompt = prompt
        self.webhook_url = webhook_url
        self.webhook_events = webhook_events

    @property
    def media_input_paths(self) -> tuple[tuple[str, Kind], ...]:  # type: ignore[override]
        """The model's media parameters, within ``model_params``, with their kinds."""
        spec = MODELS.get(self.model)
        return tuple((f"model_params.{field}", kind) for field, kind in spec.media_fields) if spec else ()

    def request_values(self) -> dict[str, Any]:
        """The rendered arguments."""
        names = ("prompt", "model_params", "webhook_url", "webhook_events", "idempotency_key")
        return {name: getattr(self, name) for name in names}

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """Validate and build the job for :attr:`model` on :attr:`route`."""
        return calls.create_job(self.model, route=self.route, **values)
