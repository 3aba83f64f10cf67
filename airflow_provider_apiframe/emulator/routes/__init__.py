"""
The emulator's routes, one router per area.

- ``jobs``: the job routes (``POST /v2/images/...``), ``GET /v2/jobs/{id}`` and the job list;
- ``account``: ``GET /v2/me``;
- ``files``: uploads, and the result files jobs link to;
- ``admin``: ``/_emulator/...``, the API tests use to set rules and read the state;
- ``common``: what they share: the services, the API key dependency, error answers.
"""
