"""
The Apiframe connection form for Airflow < 3.2, which reads it from the hook's classmethods.

Later versions read the same fields from the provider info
(:mod:`~airflow_provider_apiframe.get_provider_info`): both come from its ``CONN_FIELDS`` and
``UI_FIELD_BEHAVIOUR``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def ui_field_behaviour() -> dict[str, Any]:
    """Hide what the API does not use and relabel the rest (the hook's form spells keys with ``_``)."""
    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def form_widgets() -> dict[str, Any]:
    """The timeout, retry and TLS extras, as form fields (Flask AppBuilder and WTForms are the UI's)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        kind = field["schema"]["type"][0]
        if kind == "boolean":
            widgets[name] = BooleanField(
                field["label"], default=field["schema"]["default"], description=field["description"]
            )
            continue
        widgets[name] = {"number": StringField, "integer": IntegerField}[kind](
            field["label"],
            widget=BS3TextFieldWidget(),
            validators=[Optional()],
            description=field["description"],
        )
    return widgets
