"""Provider metadata, read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.core.config import DEFAULT_BASE_URL, ConnectionExtras

HOOK_CLASS = "airflow_provider_apiframe.hooks.apiframe.ApiframeHook"


def _extra_field(name: str, label: str, json_type: str) -> dict[str, Any]:
    field = ConnectionExtras.model_fields[name]
    return {
        "label": label,
        "schema": {"type": [json_type, "null"], "default": field.default},
        "description": field.description,
    }


#: The connection form: only what matters. Shared with the hook's form methods (Airflow < 3.2).
CONN_FIELDS: dict[str, Any] = {
    "timeout": _extra_field("timeout", "Request timeout (seconds)", "number"),
    "max_retries": _extra_field("max_retries", "Max retries", "integer"),
    "verify_ssl": _extra_field("verify_ssl", "Verify TLS certificates", "boolean"),
}
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"password": "API Key", "host": "Base URL (optional)"},
    "placeholders": {"password": "afk_...", "host": DEFAULT_BASE_URL},
}


def get_provider_info() -> dict[str, Any]:
    """Return what Airflow's providers manager needs to know about this provider."""
    return {
        "package-name": "airflow-provider-apiframe",
        "name": "Apiframe",
        "description": "Generate and edit images with GPT Image 1.5 and 50+ models through the "
        "`Apiframe <https://apiframe.ai>`__ API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Apiframe",
                "external-doc-url": "https://docs.apiframe.ai",
                "tags": ["ai"],
            }
        ],
        "hooks": [
            {"integration-name": "Apiframe", "python-modules": ["airflow_provider_apiframe.hooks.apiframe"]}
        ],
        "operators": [
            {
                "integration-name": "Apiframe",
                "python-modules": [
                    "airflow_provider_apiframe.operators.gpt_image",
                    "airflow_provider_apiframe.operators.image",
                    "airflow_provider_apiframe.operators.batch",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Apiframe", "python-modules": ["airflow_provider_apiframe.sensors.job"]}
        ],
        "extra-links": ["airflow_provider_apiframe.operators.links.ApiframeImageLink"],
        "task-decorators": [
            {
                "name": "apiframe_image",
                "class-name": "airflow_provider_apiframe.decorators.image.apiframe_image_task",
            },
            {
                "name": "apiframe_batch",
                "class-name": "airflow_provider_apiframe.decorators.batch.apiframe_batch_task",
            },
        ],
        "triggers": [
            {
                "integration-name": "Apiframe",
                "python-modules": [
                    "airflow_provider_apiframe.triggers.job",
                    "airflow_provider_apiframe.triggers.batch",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "apiframe",
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Apiframe",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
