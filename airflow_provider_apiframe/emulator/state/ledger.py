"""The credits ledger: the balance, credits promised to running jobs, charges, and prices."""

from __future__ import annotations

from typing import Any

#: Illustrative prices in credits per image (the real API's prices are on its dashboard).
_GPT_PRICES = {"low": 2, "medium": 6, "high": 24, "auto": 6}
_FLAT_PRICE = 8


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


def price(model: str, params: dict[str, Any], count: int) -> int:
    """
    Credits a job costs when it completes.

    :param model: The model.
    :param params: Its parameters block.
    :param count: Number of images.
    """
    if model.startswith("gpt-image"):
        return _GPT_PRICES.get(str(params.get("quality") or "auto"), 6) * count
    return _FLAT_PRICE * count


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
