"""
Peak memory of saving a result image: small vs. large, the provider's streaming vs. a naive download.

The emulator (its own process) makes two jobs: a normal 1024x1024 PNG and a large PNG of random
noise (``--side`` pixels square, about ``3 * side**2`` bytes). For each, a fresh Python process
saves the image and reports how much its peak RSS grew during the save, once with the provider's
``save_images`` (streamed in 1 MiB chunks to an ``ObjectStoragePath``) and once with the baseline
``requests.get(url).content`` written to a file. Flat memory means the provider's growth does not
follow the file's size; the baseline's does.

    python benchmarks/download_memory.py [--side 6000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import httpx
from _emulator import KEY, emulator_process

CHILD = r"""
import json, os, sys
mode, url, job_id, folder = sys.argv[1:5]
def peak_mb():  # VmHWM: this process's peak resident set (ru_maxrss would include the parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
if mode == "provider":
    from airflow.sdk import ObjectStoragePath
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
    from airflow_provider_apiframe.storage import save_images
    hook = ApiframeHook()
    hook.get_conn()  # sessions ready before measuring
    before = peak_mb()
    files = save_images(hook, job_id, [url], ObjectStoragePath(folder))
    size = files[0]["bytes"]
else:
    import requests
    session = requests.Session()
    before = peak_mb()
    data = session.get(url, timeout=300).content
    with open(os.path.join(folder, job_id + "-1.png"), "wb") as sink:
        sink.write(data)
    size = len(data)
print(json.dumps({"before_mb": before, "peak_mb": peak_mb(), "bytes": size}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=6000, help="side of the large image in pixels")
    args = parser.parse_args()
    rows = []
    options = ("--job-seconds", "0.2", "--jitter", "0", "--large-image-side", str(args.side))
    with emulator_process(*options) as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=300) as client:
            body = {
                "prompt": "benchmark",
                "model": "gpt-image-1.5",
                "gptImageParams": {"output_format": "png"},
            }
            jobs = {
                "small": client.post("/v2/images/generate", json=body).json()["jobId"],
                "large": client.post(
                    "/v2/images/generate", json=body, headers={"X-Emulator-Outcome": "large-result"}
                ).json()["jobId"],
            }
            time.sleep(0.5)
            urls = {
                name: client.get(f"/v2/jobs/{job_id}").json()["result"]["images"][0]
                for name, job_id in jobs.items()
            }
            for name in urls:  # have the emulator render each image once, before anything is measured
                with client.stream("GET", urls[name]) as response:
                    for _ in response.iter_bytes():
                        pass
        env = {
            **os.environ,
            "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(
                {"conn_type": "apiframe", "password": KEY, "host": url}
            ),
        }
        for mode in ("provider", "baseline"):
            for name, job_id in jobs.items():
                with tempfile.TemporaryDirectory() as folder:
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, mode, urls[name], job_id, folder],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                measured = json.loads(out.strip().splitlines()[-1])
                rows.append((mode, name, measured["bytes"], measured["peak_mb"] - measured["before_mb"]))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'download':<10} {'image':<6} {'file MB':>9} {'RSS growth MB':>14}")
    for mode, name, size, growth in rows:
        print(f"{mode:<10} {name:<6} {size / 2**20:>9.1f} {growth:>14.1f}")
    growth = {(mode, name): g for mode, name, _, g in rows}
    large_mb = next(size for mode, name, size, _ in rows if name == "large") / 2**20
    provider_extra = growth["provider", "large"] - growth["provider", "small"]
    baseline_extra = growth["baseline", "large"] - growth["baseline", "small"]
    print(
        f"large - small RSS growth: provider {provider_extra:+.1f} MB, baseline {baseline_extra:+.1f} MB "
        f"for a {large_mb:.0f} MB file; the provider's is {provider_extra / large_mb:.2%} of the file size, "
        f"the baseline's {baseline_extra / large_mb:.0%}"
    )
    return 0 if provider_extra < 0.1 * large_mb else 1


if __name__ == "__main__":
    sys.exit(main())
