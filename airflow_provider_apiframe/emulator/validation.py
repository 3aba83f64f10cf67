"""Validate job requests as the API does: per-field messages keyed by JSON path, from the core's check."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_apiframe.core.schema_check import ContractCheck

_REQUIRED = re.compile(r"^'(.+)' is a required property$")


class RequestValidator:
    """
    Validate job-creating request bodies against the contract, answering as the API's ``400`` does.

    :param spec: The official OpenAPI document, or ``None`` for the snapshot shipped with the package.
    """

    def __init__(self, spec: dict[str, Any] | None = None):
        self.check = ContractCheck(spec)
        self.spec = self.check.spec

    def validate(self, route: str, body: Any) -> dict[str, list[str]]:
        """
        Return the problems of ``body`` for ``route`` by JSON path; empty when it is valid.

        :param route: e.g. ``/v2/images/generate``.
        :param body: The parsed JSON body.
        """
        if not isinstance(body, dict):
            return {"body": ["Expected object"]}
        key = self.check.discriminator(route)
        if key is not None and body.get(key) not in (names := self.check.choices(route)):
            allowed = " | ".join(repr(name) for name in names)
            return {key: [f"Invalid enum value. Expected {allowed}, received {body.get(key)!r}"]}
        problems: dict[str, list[str]] = {}
        for error in self.check.errors(route, body):
            path, message = [str(p) for p in error.absolute_path], error.message
            if str(error.validator) == "required" and (missing := _REQUIRED.match(message)):
                path, message = [*path, missing[1]], "Required"  # keyed by the missing field, as Zod does
            elif str(error.validator) == "maxLength":  # worded as the API does, not quoting the value
                message = f"String must contain at most {error.validator_value} character(s)"
            problems.setdefault(".".join(path) or "body", []).append(message)
        return dict(sorted(problems.items()))
