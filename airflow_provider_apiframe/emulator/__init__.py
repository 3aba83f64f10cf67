"""
A local emulator of the Apiframe v2 API, for demos, DAG tests and this provider's own tests.

Install with ``pip install airflow-provider-apiframe[emulator]``; run ``apiframe-emulator`` or use
:class:`Emulator` from Python (in a thread of this process) or :class:`EmulatorProcess` (as a
process of its own).
"""

from airflow_provider_apiframe.emulator.config import EMULATOR_API_KEY, EmulatorConfig, load_spec
from airflow_provider_apiframe.emulator.process import EmulatorProcess, free_port, wait_until_up
from airflow_provider_apiframe.emulator.server import Emulator

__all__ = [
    "EMULATOR_API_KEY",
    "Emulator",
    "EmulatorConfig",
    "EmulatorProcess",
    "free_port",
    "load_spec",
    "wait_until_up",
]
