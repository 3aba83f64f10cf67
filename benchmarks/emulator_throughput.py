"""
How many ``GET /v2/jobs/{id}`` per second the emulator answers on loopback.

Starts the emulator as its own process, creates jobs (half of them finished), then drives
``GET /v2/jobs/<random id>`` with ``wrk`` (Debian package ``wrk``) for a fixed time and reports
requests per second and latency. The target is 2,000 requests per second on a 2-core machine,
with the load generator on the same machine.

    python benchmarks/emulator_throughput.py [--jobs 1000] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _emulator import KEY, emulator_process

TARGET = 2000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    with emulator_process("--job-seconds", "1", "--jitter", "0") as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}) as client:
            ids = [
                client.post(
                    "/v2/images/generate", json={"prompt": f"job {i}", "model": "gpt-image-1.5"}
                ).json()["jobId"]
                for i in range(args.jobs)
            ]
            time.sleep(1.5)  # the first jobs have finished by now; later ones are still running
            assert client.get(f"/v2/jobs/{ids[0]}").json()["status"] == "COMPLETED"
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "jobs.lua"
            script.write_text(
                "local ids = {" + ",".join(json.dumps(i) for i in ids) + "}\n"
                f'wrk.headers["X-API-Key"] = "{KEY}"\n'
                "request = function()\n"
                '  return wrk.format("GET", "/v2/jobs/" .. ids[math.random(#ids)])\n'
                "end\n"
            )
            result = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "--latency",
                    "-s",
                    str(script),
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", result, re.MULTILINE))
    print(result)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
        f"GET /v2/jobs/{{id}}: {rate:,.0f} requests/s (target {TARGET:,.0f}), "
        f"latency p50 {latency.get('50')} p99 {latency.get('99')}, "
        f"{errors[1] if errors else 0} non-2xx, {args.jobs} jobs, {args.connections} connections"
    )
    return 0 if rate >= TARGET and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
