"""Every music model of the Apiframe API (Suno, Udio, Lyria, ElevenLabs...)."""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.core.catalog import MUSIC_GENERATE
from airflow_provider_apiframe.operators.model_job import ApiframeModelJobOperator


class ApiframeMusicGenerateOperator(ApiframeModelJobOperator):
    """
    Generate music with any model of ``POST /v2/music/generate``.

    .. code-block:: python

        ApiframeMusicGenerateOperator(
            task_id="jingle",
            model="suno",
            prompt="A cheerful 10-second jingle for a coffee brand, ukulele and claps",
            model_params={"instrumental": True},
        )

    The result's ``audio`` lists the tracks' URLs (a Suno job makes two); saved files get their
    extension from their bytes (``.mp3``, ``.m4a``, ``.wav``...).

    :param model: The model (templated).
    :param prompt: What to compose (templated).
    :param model_params: The model's parameters (templated), sent under its ``<family>Params`` key.
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.model_job.ApiframeModelJobOperator`.
    """

    route = MUSIC_GENERATE

    def __init__(self, *, model: str, prompt: str, **kwargs: Any) -> None:
        super().__init__(model=model, prompt=prompt, **kwargs)
