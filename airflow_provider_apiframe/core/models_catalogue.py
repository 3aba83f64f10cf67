"""
The public model catalogue (``GET /v2/models``): its wire model and the call that reads it.

Kept apart from :mod:`~airflow_provider_apiframe.core.models` and
:mod:`~airflow_provider_apiframe.core.calls`, which hold the job routes.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.exchange import ApiCall

#: The ``modality`` values the contract allows.
MODALITIES = ("image", "video", "music")


class CatalogueEntry(BaseModel):
    """
    One model of the catalogue (``ModelCatalogEntry``), under the contract's names as aliases.

    ``pricing_mode`` is ``flat``, ``per-second`` or ``per-output``; values the API may add later are
    kept as sent, as are extra fields (``model_extra``).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: str
    label: str
    modality: str
    description: str | None = None
    cost_min: float | None = Field(default=None, alias="costMin")
    cost_max: float | None = Field(default=None, alias="costMax")
    pricing_mode: str | None = Field(default=None, alias="pricingMode")

    @property
    def routes(self) -> tuple[str, ...]:
        """The job routes that take this model, from the contract the package ships."""
        return _routes_by_model().get(self.id, ())


class ModelCatalogue(BaseModel):
    """The ``200`` answer of ``GET /v2/models`` (``ModelCatalog``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    models: list[CatalogueEntry]

    def of(self, modality: str | None) -> list[CatalogueEntry]:
        """
        The entries of one modality, or all of them.

        :param modality: ``image``, ``video``, ``music``, or ``None`` for every entry.
        """
        return [entry for entry in self.models if modality is None or entry.modality == modality]


def check_modality(modality: str | None) -> None:
    """
    Refuse a modality the contract does not allow, before anything is sent.

    :param modality: The filter asked for.
    :raises ApiframeInvalidParamsError: When it is not one of :data:`MODALITIES`.
    """
    if modality is not None and modality not in MODALITIES:
        allowed = ", ".join(repr(m) for m in MODALITIES)
        raise ApiframeInvalidParamsError([("modality", f"got {modality!r}; allowed: {allowed}")])


def list_models(modality: str | None = None) -> ApiCall[ModelCatalogue]:
    """
    Build ``GET /v2/models`` (public: the API needs no key for it).

    :param modality: Only the models of ``image``, ``video`` or ``music``; ``None`` for all.
    :raises ApiframeInvalidParamsError: For another modality.
    """
    check_modality(modality)
    params = {"modality": modality} if modality else None
    return ApiCall("GET", "/v2/models", ModelCatalogue, params=params)


@cache
def _routes_by_model() -> dict[str, tuple[str, ...]]:
    routes: dict[str, tuple[str, ...]] = {}
    for route, models in sorted(contract.route_models(contract.snapshot()).items()):
        for model in models:
            routes[model] = (*routes.get(model, ()), route)
    return routes
