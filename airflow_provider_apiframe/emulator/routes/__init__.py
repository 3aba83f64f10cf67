"""
The emulator's routes, one router per area.

- ``jobs``: the job routes (``POST /v2/images/...``, ``/v2/videos/...``, ``/v2/music/generate``),
  ``GET /v2/jobs/{id}`` and the job list;
- ``midjourney``: ``POST /v2/images/midjourney/action``, follow-up actions on a Midjourney job;
- ``suno``: ``POST /v2/music/suno/action``, follow-up actions on a Suno track;
- ``models``: ``GET /v2/models``, the public catalogue, priced as the ledger charges;
- ``account``: ``GET /v2/me``;
- ``files``: uploads, and the result files jobs link to;
- ``loras``, ``assets``: LoRA training (``/v2/loras``) and provider assets (``/v2/assets``);
- ``admin``: ``/_emulator/...``, the API tests use to set rules and read the state;
- ``common``: what they share: the services, the API key dependency, error answers.
"""
