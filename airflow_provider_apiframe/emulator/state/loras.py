"""
The LoRAs the emulator trains: ``PENDING -> UPLOADING -> TRAINING -> READY | FAILED`` over time.

Like a job's, a LoRA's status is a function of time, read when asked: a training takes
``job_seconds`` (a tenth PENDING, a fifth UPLOADING, the rest TRAINING). Two credits are taken
when it is created and given back, once, when a training that FAILED is first read so.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_apiframe.emulator.state.views import iso_time

if TYPE_CHECKING:
    from airflow_provider_apiframe.emulator.config import EmulatorConfig
    from airflow_provider_apiframe.emulator.state.ledger import Ledger

#: Credits a training costs, taken up-front.
TRAINING_CREDITS = 2
DEFAULT_STEPS = 1000
DEFAULT_RANK = 16
TRAINING_FAILED = "Training failed: the trainer could not converge on these images."


@dataclasses.dataclass
class LoraRecord:
    """One LoRA and what is needed to answer for it."""

    id: str
    api_key: str
    name: str
    subject_kind: str
    gender: str | None
    ethnicity: str | None
    age: str | None
    image_count: int
    steps: int
    lora_rank: int
    created: float
    uploading_at: float
    training_at: float
    finishes_at: float
    outcome: Literal["READY", "FAILED"]
    archived: bool = False
    refunded: bool = False

    def status(self, now: float) -> str:
        """
        Its status at ``now``.

        :param now: The time to read it at.
        """
        if self.archived:
            return "ARCHIVED"
        if now < self.uploading_at:
            return "PENDING"
        if now < self.training_at:
            return "UPLOADING"
        return "TRAINING" if now < self.finishes_at else self.outcome

    def to_json(self, now: float) -> dict[str, Any]:
        """
        The LoRA as ``GET /v2/loras/{id}`` shows it.

        :param now: The time to read it at.
        """
        status = self.status(now)
        ended = now >= self.finishes_at
        ready = ended and self.outcome == "READY"
        return {
            "id": self.id,
            "userId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"apiframe-emulator:user:{self.api_key}")),
            "teamId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"apiframe-emulator:team:{self.api_key}")),
            "name": self.name,
            "subjectKind": self.subject_kind,
            "gender": self.gender,
            "ethnicity": self.ethnicity,
            "age": self.age,
            "status": status,
            "imageCount": self.image_count,
            "steps": self.steps,
            "loraRank": self.lora_rank,
            "isReady": ready and not self.archived,
            "error": TRAINING_FAILED if ended and self.outcome == "FAILED" else None,
            "createdAt": iso_time(self.created),
            "startedAt": iso_time(self.training_at) if now >= self.training_at else None,
            "completedAt": iso_time(self.finishes_at) if ended else None,
            "hasWeights": ready,
            "triggerWord": f"afx{self.id[:6]}" if ready else None,
        }


class LoraStore:
    """
    Every LoRA, oldest first, and the ledger it pays through.

    :param config: The emulator's settings (``job_seconds`` paces training).
    :param ledger: The team's credits.
    """

    def __init__(self, config: EmulatorConfig, ledger: Ledger):
        self.config = config
        self.ledger = ledger
        self.loras: dict[str, LoraRecord] = {}  # by id, in creation order

    def create(
        self, api_key: str, fields: dict[str, Any], image_count: int, *, outcome: str | None
    ) -> LoraRecord:
        """
        Queue a training and take its credits.

        :param api_key: The caller's key.
        :param fields: The validated form fields (API names).
        :param image_count: How many images came with it.
        :param outcome: ``failed`` makes the training FAIL (``X-Emulator-Outcome``); else it is READY.
        :raises InsufficientCredits: When the team cannot pay.
        :raises ValueError: For another ``outcome``.
        """
        if outcome not in (None, "failed"):
            raise ValueError(f"Unknown X-Emulator-Outcome for a LoRA: {outcome!r} (allowed: failed)")
        self.ledger.check(TRAINING_CREDITS)
        now, seconds = time.time(), max(self.config.job_seconds, 0.01)
        lora = LoraRecord(
            id=str(uuid.uuid4()),
            api_key=api_key,
            name=fields["name"],
            subject_kind=fields.get("subjectKind", "person"),
            gender=fields.get("gender"),
            ethnicity=fields.get("ethnicity"),
            age=fields.get("age"),
            image_count=image_count,
            steps=fields.get("steps", DEFAULT_STEPS),
            lora_rank=fields.get("loraRank", DEFAULT_RANK),
            created=now,
            uploading_at=now + 0.1 * seconds,
            training_at=now + 0.3 * seconds,
            finishes_at=now + seconds,
            outcome="FAILED" if outcome == "failed" else "READY",
        )
        self.ledger.credits -= TRAINING_CREDITS
        self.ledger.charges.append((lora.id, TRAINING_CREDITS))
        self.loras[lora.id] = lora
        return lora

    def read(self, lora: LoraRecord, now: float | None = None) -> dict[str, Any]:
        """
        A LoRA as the API shows it, refunding a FAILED training the first time it is seen ended.

        :param lora: The LoRA.
        :param now: The time to read it at.
        """
        now = time.time() if now is None else now
        if lora.outcome == "FAILED" and now >= lora.finishes_at and not lora.refunded:
            lora.refunded = True
            self.ledger.credits += TRAINING_CREDITS
            self.ledger.charges.append((lora.id, -TRAINING_CREDITS))
        return lora.to_json(now)

    def find(self, api_key: str, lora_id: str) -> LoraRecord | None:
        """
        The caller's LoRA ``lora_id``, if there is one.

        :param api_key: The caller's key.
        :param lora_id: The LoRA's id.
        """
        lora = self.loras.get(lora_id)
        return lora if lora is not None and lora.api_key == api_key else None

    def page(
        self, api_key: str, *, cursor: str | None, limit: int, include_archived: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        """
        A page of the caller's LoRAs, newest first, and the cursor of the next (the last one's id).

        :param api_key: The caller's key.
        :param cursor: The id of the last LoRA of the previous page.
        :param limit: Page size.
        :param include_archived: Show archived LoRAs too.
        """
        mine = [
            lora
            for lora in reversed(self.loras.values())
            if lora.api_key == api_key and (include_archived or not lora.archived)
        ]
        if cursor is not None:
            ids = [lora.id for lora in mine]
            mine = mine[ids.index(cursor) + 1 :] if cursor in ids else []
        items = [self.read(lora) for lora in mine[:limit]]
        return items, (items[-1]["id"] if len(mine) > limit else None)
