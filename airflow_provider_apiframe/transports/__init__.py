"""The HTTP transports: ``sync`` (requests, workers) and ``asynchronous`` (httpx, triggers)."""
