"""``make run``: serve the API with gunicorn, with an embedded S3 server unless S3_ENDPOINT_URL is set.

The embedded server keeps its data under ./.data/, so datasets survive a restart. Ctrl-C
stops gunicorn (it shares our terminal) and then the S3 server.
"""

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from deploy import embedded_s3

DATA_DIR = Path(".data") / "seaweedfs"
GUNICORN_CONFIG = Path(__file__).with_name("gunicorn.conf.py")


def main() -> int:
    # SIGTERM (from a supervisor, or `kill`) unwinds like Ctrl-C, so the S3 server stops too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    s3 = None
    if not env.get("S3_ENDPOINT_URL"):
        # Credentials for this run only: the server is on loopback and trusts what it is started with.
        access_key, secret_key = "local-" + secrets.token_hex(6), secrets.token_urlsafe(24)
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        with open(DATA_DIR.parent / "seaweedfs.log", "ab") as log:
            s3 = embedded_s3.start(DATA_DIR.resolve(), access_key, secret_key, log=log)
        env.update(
            S3_ENDPOINT_URL=s3.endpoint_url, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key
        )
        print(f"embedded S3 (SeaweedFS) at {s3.endpoint_url}, data in {DATA_DIR}/", flush=True)
    print(f"API on http://{env['HOST']}:{env['PORT']}/ (Swagger UI at /docs); Ctrl-C stops", flush=True)
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)], env=env)
    try:
        return gunicorn.wait()
    except KeyboardInterrupt:
        gunicorn.send_signal(signal.SIGINT)  # Ctrl-C reached it already; SIGTERM to us did not
        return gunicorn.wait()
    finally:
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    sys.exit(main())
