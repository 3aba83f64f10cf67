"""
The credits ledger: the balance, credits promised to running jobs, charges, and prices.

Illustrative prices (the real API's are on its dashboard), as ``GET /v2/models`` shows them:

- images: 8 credits per result image (a Midjourney grid is one result), GPT Image by quality
  (2, 6, 24, 6 for ``low``, ``medium``, ``high``, ``auto``) per image;
- video: 4 credits per second asked for (the ``duration`` parameter, else 5 s), rounded up;
- music: 20 credits a job (a Suno pair of tracks, or a model's songs);
- follow-up actions (no model of their own in the catalogue): Midjourney ``upsample`` 4, the
  others 8; Suno ``stems`` 10, the others 20.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

#: Illustrative prices in credits per image (the real API's prices are on its dashboard).
_GPT_PRICES = {"low": 2, "medium": 6, "high": 24, "auto": 6}
_FLAT_PRICE = 8
#: Illustrative prices of the other modalities: credits per second of video, per music track.
_VIDEO_PER_SECOND = 4
_VIDEO_DEFAULT_SECONDS = 5
_MUSIC_PRICE = 20
#: Prices of the follow-up actions (Midjourney's and Suno's), a job each.
ACTION_PRICES = {
    "upsample": 4,
    "variation": 8,
    "inpaint": 8,
    "outpaint": 8,
    "pan": 8,
    "extend": _MUSIC_PRICE,
    "cover": _MUSIC_PRICE,
    "add_vocals": _MUSIC_PRICE,
    "stems": 10,
}

PricingMode = Literal["flat", "per-second", "per-output"]


@dataclasses.dataclass(frozen=True)
class Pricing:
    """
    How a model is charged, as ``GET /v2/models`` shows it.

    :param mode: ``per-output`` (per result image), ``per-second`` (of video) or ``flat`` (per job).
    :param cost_min: The fewest credits per unit (image, second or job).
    :param cost_max: The most credits per unit.
    """

    mode: PricingMode
    cost_min: int
    cost_max: int


def pricing(model: str, modality: str) -> Pricing:
    """
    How the emulator charges a model: :func:`price` follows it.

    :param model: The model.
    :param modality: ``image``, ``video`` or ``music`` (its routes').
    """
    if model.startswith("gpt-image"):
        return Pricing("per-output", min(_GPT_PRICES.values()), max(_GPT_PRICES.values()))
    if modality == "video":
        return Pricing("per-second", _VIDEO_PER_SECOND, _VIDEO_PER_SECOND)
    if modality == "music":
        return Pricing("flat", _MUSIC_PRICE, _MUSIC_PRICE)
    return Pricing("per-output", _FLAT_PRICE, _FLAT_PRICE)


def action_price(action: str) -> int:
    """
    Credits a follow-up action costs when it completes.

    :param action: e.g. ``upsample`` or ``stems``.
    """
    return ACTION_PRICES.get(action, _FLAT_PRICE)


class InsufficientCredits(Exception):
    """
    The team cannot pay for a job: ``402``.

    :param required: What the job costs.
    :param available: What the team has, less what running jobs will take.
    """

    def __init__(self, required: int, available: int):
        super().__init__(f"{required} credits required, {available} available")
        self.required = required
        self.available = available


def price(model: str, params: dict[str, Any], count: int, *, modality: str = "image") -> int:
    """
    Credits a job costs when it completes, by its model's :func:`pricing`.

    :param model: The model.
    :param params: Its parameters block.
    :param count: Number of result images (ignored by the other modalities).
    :param modality: ``image``, ``video`` or ``music``.
    """
    rule = pricing(model, modality)
    if model.startswith("gpt-image"):
        return _GPT_PRICES.get(str(params.get("quality") or "auto"), 6) * count
    if rule.mode == "per-second":
        seconds = params.get("duration")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            seconds = _VIDEO_DEFAULT_SECONDS
        return rule.cost_min * math.ceil(seconds)
    if rule.mode == "flat":
        return rule.cost_min
    return rule.cost_min * count


class Ledger:
    """
    The team's credits: charged when a job completes, reserved from its submission until then.

    :param credits: The starting balance.
    """

    def __init__(self, credits: int):
        self.credits = credits
        self.reserved = 0  # credits promised to jobs that will complete but have not yet
        self.charges: list[tuple[str, int]] = []  # (job id, credits)

    def check(self, cost: int) -> None:
        """
        Raise :class:`InsufficientCredits` unless the team can pay ``cost`` besides what is reserved.

        :param cost: The new job's price.
        """
        if self.credits - self.reserved < cost:
            raise InsufficientCredits(cost, max(0, self.credits - self.reserved))

    def charge(self, job_id: str, cost: int) -> None:
        """
        Charge a completed job the credits reserved for it.

        :param job_id: The job.
        :param cost: Its price.
        """
        self.reserved -= cost
        self.credits -= cost
        self.charges.append((job_id, cost))

    def charged(self) -> set[str]:
        """The ids of the jobs charged so far."""
        return {job_id for job_id, _ in self.charges}
