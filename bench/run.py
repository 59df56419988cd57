"""Start SeaweedFS and the API (gunicorn with the project's config), run every measure, print one
line each and a summary, and stop everything again, also on Ctrl-C.

Usage: python -m bench [--quick] [--markdown]

Ratios compare the API with the boto3 call that does the same against the same S3 server, or with
the converter a user would pick instead on the same file, in the same run; nothing is asserted about
absolute times, and the exit status is 0 whatever the ratios.
"""

import argparse
import contextlib
import os
import platform
import signal
import sys
import tempfile
from pathlib import Path

import boto3
import psutil
from botocore.config import Config

from bench import measures
from deploy import embedded_s3
from tests.servers import ApiServer, s3_environment, start_api

BUCKET = "bench"
ACCESS_KEY, SECRET_KEY = "bench-access", "bench-secret-key-0123456789"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look")
    parser.add_argument("--markdown", action="store_true", help="also print the results as a table")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers and temporary data go away either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        results = program(measures.QUICK if args.quick else measures.FULL)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temporary data removed", file=sys.stderr)
        return 130
    print_summary(results)
    if args.markdown:
        print_markdown(results)
    return 0


def program(sizes: measures.Sizes) -> list[measures.Result]:
    """Every measure on fresh servers; the servers and the scratch directory are gone on return."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="datasets-bench-")))
        s3_log = stack.enter_context((workdir / "s3.log").open("wb"))
        s3 = embedded_s3.start(workdir / "s3", ACCESS_KEY, SECRET_KEY, log=s3_log)
        stack.callback(s3.stop)
        api_log = stack.enter_context((workdir / "api.log").open("wb"))
        api_temp = workdir / "api-tmp"  # the server's TMPDIR, so its temporary files can be watched
        api_temp.mkdir()

        def fresh_api() -> ApiServer:
            api = start_api({**s3_environment(s3, BUCKET), "TMPDIR": str(api_temp)}, log=api_log)
            stack.callback(api.stop)
            return api

        api = fresh_api()
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            # The service's own choices for S3-compatible servers, so both sides do the same work.
            config=Config(
                max_pool_connections=32,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"},
            ),
        )
        bench = measures.Bench(api.url, client, BUCKET, workdir, sizes, api.process.pid, api_temp)
        print(f"API {api.url} (gunicorn, deploy/gunicorn.conf.py) on SeaweedFS {s3.endpoint_url}")
        print_header()
        results: list[measures.Result] = []

        def record(*found: measures.Result) -> None:
            for result in found:
                print_line(result)
                results.append(result)

        record(*measures.upload(bench))
        small = measures.small_dataset(bench)
        record(measures.info(bench, small))
        record(*measures.list_page(bench, measures.fill_bucket(bench, sizes.list_objects)))
        record(*measures.cached_export(bench))
        record(measures.load(bench, small))
        # The first exports on fresh servers, so their memory growth is not hidden in what the
        # measures before them left resident.
        for on_one_server in ((measures.export, measures.nested_export), (measures.export_memory,)):
            api.stop()
            api = fresh_api()
            bench = measures.Bench(api.url, client, BUCKET, workdir, sizes, api.process.pid, api_temp)
            for measure in on_one_server:
                record(*measure(bench))
        return results


COLUMNS = "{:<58} {:>10} {:>10} {:>7} {:>7}  {:<5} {}"


def print_header() -> None:
    print(COLUMNS.format("measure", "API", "baseline", "ratio", "target", "", "notes"))


def print_line(result: measures.Result) -> None:
    target = "-" if result.target is None else f"{result.target:.2f}"
    verdict = {True: "ok", False: "MISS", None: ""}[result.ok]
    print(
        COLUMNS.format(
            result.name,
            _amount(result.api, result.unit),
            _amount(result.baseline, result.unit),
            f"{result.ratio:.2f}",
            target,
            verdict,
            result.note,
        ),
        flush=True,
    )


def _amount(value: float, unit: str) -> str:
    if unit == "B":
        return f"{value / measures.MB:.0f} MB"
    return f"{value:.3f} s" if value >= 1 else f"{value * 1000:.2f} ms"


def print_summary(results: list[measures.Result]) -> None:
    judged = [result for result in results if result.ok is not None]
    missed = [result.name for result in judged if not result.ok]
    print(f"\n{len(judged) - len(missed)} of {len(judged)} ratios within target" + (":" if missed else "."))
    for name in missed:
        print(f"  MISS {name}")
    print(machine())


def print_markdown(results: list[measures.Result]) -> None:
    print("\n| measure | API | baseline | ratio | target | |\n|---|---:|---:|---:|---:|---|")
    for result in results:
        target = "-" if result.target is None else f"<= {result.target:.2f}"
        verdict = {True: "ok", False: "miss", None: result.note}[result.ok]
        print(
            f"| {result.name} | {_amount(result.api, result.unit)} | {_amount(result.baseline, result.unit)} "
            f"| {result.ratio:.2f} | {target} | {verdict} |"
        )


def machine() -> str:
    """The machine the numbers came from: cores, CPU model, memory, load, Python."""
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 1024**3
    load = ", ".join(f"{average:.2f}" for average in os.getloadavg())
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores, {model}, {memory:.1f} GiB, "
        f"Python {platform.python_version()}; load average {load}"
    )
