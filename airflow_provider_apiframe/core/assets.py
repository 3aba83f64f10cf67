"""Provider assets (``/v2/assets``): some video providers want input media registered first."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.exchange import ApiCall
from airflow_provider_apiframe.core.loras import schema_validator
from airflow_provider_apiframe.core.schema_check import word

ASSETS = "/v2/assets"


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class AssetCreated(_Response):
    """``201`` answer to ``POST /v2/assets/create``."""

    asset_id: str = Field(alias="assetId")


class ProviderAsset(BaseModel):
    """The provider's asset object, as ``GET /v2/assets/{id}`` passes it through (opaque)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def create_asset(url: Any, type: Any) -> ApiCall[AssetCreated]:
    """
    Build ``POST /v2/assets/create``: register a media URL with the upstream provider.

    :param url: An absolute URL of the media.
    :param type: ``image``, ``video`` or ``audio``.
    """
    body = {"url": url, "type": type}
    problems = word(list(schema_validator("CreateAssetRequest").iter_errors(body)), lambda key: key)
    if problems:
        raise ApiframeInvalidParamsError(problems)
    return ApiCall("POST", f"{ASSETS}/create", AssetCreated, json=body)


def get_asset(asset_id: Any) -> ApiCall[ProviderAsset]:
    """
    Build ``GET /v2/assets/{assetId}``.

    :param asset_id: The id :func:`create_asset` returned.
    """
    if not isinstance(asset_id, str) or not asset_id.strip():
        raise ApiframeInvalidParamsError([("asset_id", f"got {asset_id!r}; allowed: an asset id")])
    return ApiCall("GET", f"{ASSETS}/{quote(asset_id, safe='')}", ProviderAsset)
