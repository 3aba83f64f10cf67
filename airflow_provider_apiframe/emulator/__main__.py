"""``python -m airflow_provider_apiframe.emulator``: same as ``apiframe-emulator``."""

from airflow_provider_apiframe.emulator.server import main

main()
