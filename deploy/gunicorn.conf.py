"""gunicorn settings, read from the environment (``make run`` and the image both use this file)."""

import json
import os
import sys
from pathlib import Path

from gunicorn import util

# The repository root, for the settings check below: the ``gunicorn`` script (the image's command)
# puts its own folder on sys.path, not the working directory, and ``chdir`` applies only later.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service import config as service_config

# A setting that can never work stops the server here, in one line, before any worker starts
# (a worker failing to boot would print a traceback per attempt instead).
try:
    service_config.check(service_config.from_environment())
except service_config.ConfigurationError as error:
    sys.exit(f"datasets-api: {error}")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# gthread: a long export or upload occupies one thread, not a whole worker, and the
# worker's heartbeat keeps running, so the timeout below does not kill it.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 5
# Import the app from the repository root whatever the working directory.
chdir = str(Path(__file__).resolve().parent.parent)
wsgi_app = "service:create_app()"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
# gunicorn 27's runtime-control socket lives at one fixed path per user; several servers on
# one host (tests, replicas) would fight over it, and nothing here uses gunicornc.
control_socket_disable = True


def worker_int(worker) -> None:
    """On a quick shutdown (SIGINT or SIGQUIT: Ctrl-C under ``make run``) a worker ends at once.

    gunicorn would go on to ``sys.exit()``, and Python's own finalization, with boto3 and the
    export's libraries loaded, takes a second or more on a busy machine: past graceful_timeout the
    arbiter SIGKILLs the worker and logs "Perhaps out of memory?". Requests in flight are cut
    either way; a graceful stop (SIGTERM) is not affected."""
    worker.log.info("Worker exiting (pid: %s)", os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own refusals (a malformed request, a request line over its limit) as the API's
    JSON error, not gunicorn's HTML page: every error a client sees is ``{"message": ...}``."""
    body = json.dumps({"message": f"{reason}: {mesg}"}) + "\n"
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, (head + body).encode("latin-1"))


# The workers call util.write_error for requests that never reach the app.
util.write_error = _json_error
