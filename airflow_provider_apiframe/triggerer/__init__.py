"""
What the triggers of one triggerer share, per connection and event loop.

- :mod:`.pool`: one pooled async transport per connection and event loop (its connections and its
  rate governor), opened by the first trigger of the connection and closed by the last.
- :mod:`.watcher`: the batched job-status reader (``GET /v2/jobs`` pages for many awaited jobs).
- :mod:`.tuning`: the numbers the watcher runs on, in one object.

Nothing here knows Airflow; :class:`~airflow_provider_apiframe.hooks.apiframe.ApiframeHook` uses it.
"""
