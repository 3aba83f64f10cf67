"""
The emulator's memory: jobs, idempotency keys, the credits ledger, uploads, rules, logs.

:class:`EmulatorState` (in ``facade``) is the one object the routes and tests use; each concern
lives in a part of its own:

- ``jobs``: the job record, the store in creation order, a new job's record, webhook events;
- ``timeline``: a job's status and progress in time, when its files expire, the hold;
- ``ledger``: credits, reservations, charges and prices;
- ``replays``: which job each ``Idempotency-Key`` created;
- ``rules``: injected faults and job outcomes;
- ``ratelimit``: the per-key token bucket;
- ``traffic``: the request log and webhook deliveries;
- ``persistence``: the state file;
- ``views``: a job as the API shows it, and the admin views.
"""

from airflow_provider_apiframe.emulator.state.facade import EmulatorState
from airflow_provider_apiframe.emulator.state.jobs import (
    DEFAULT_WEBHOOK_EVENTS,
    JobRecord,
    Outcome,
    ResultShape,
    webhook_events,
)
from airflow_provider_apiframe.emulator.state.ledger import InsufficientCredits
from airflow_provider_apiframe.emulator.state.rules import CONTENT_POLICY_ERROR, FaultRule, OutcomeRule
from airflow_provider_apiframe.emulator.state.views import iso_time

__all__ = [
    "CONTENT_POLICY_ERROR",
    "DEFAULT_WEBHOOK_EVENTS",
    "EmulatorState",
    "FaultRule",
    "InsufficientCredits",
    "JobRecord",
    "Outcome",
    "OutcomeRule",
    "ResultShape",
    "iso_time",
    "webhook_events",
]
