"""Apache Airflow provider for the Apiframe API: image generation jobs as deferrable tasks."""

__version__ = "0.1.0"
