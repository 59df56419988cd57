"""dsclient: upload JSON datasets, list them, export them to Excel, download them.

Usage:
  dsclient [options] list
  dsclient [options] upload <file>...
  dsclient [options] info <id>
  dsclient [options] delete <id>...
  dsclient [options] excel <id> [-o <path>]
  dsclient [options] download <id> [-o <path>]
  dsclient (-h | --help | --version)

Options:
  --url=<url>     API address [env DSCLIENT_URL, default http://127.0.0.1:8000]
  --token=<tok>   bearer token [env DSCLIENT_TOKEN]
  --json          print machine-readable JSON instead of a table
  -q, --quiet     no progress bars
  -o <path>       file or folder to write to, - for stdout (else the dataset's name, here)
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import IO, Any, TextIO
from urllib.parse import urlsplit

from docopt import DocoptExit, docopt

from dsclient import __version__
from dsclient.api import ApiError, DatasetsApi, Download, TransportError, Unreachable
from dsclient.output import dataset_details, dataset_table, printable, progress_bar, to_json
from dsclient.status import ExitStatus

DEFAULT_URL = "http://127.0.0.1:8000"
COMMANDS = {"list", "upload", "info", "delete", "excel", "download"}


class UsageError(Exception):
    """The command line names something unusable; reported like docopt's errors, with exit status 2."""


class ExistingFile(Exception):
    """A name chosen by the server would overwrite a file the user did not name."""


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command and turn every failure into a message on stderr and an exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def fail(message: str, status: ExitStatus = ExitStatus.ERROR) -> int:
        stderr.write(f"dsclient: error: {message}\n")
        return status

    try:
        return program(list(sys.argv[1:] if argv is None else argv), stdout, stderr)
    except DocoptExit as exc:
        stderr.write(f"dsclient: error: {usage_problem(exc)}\n{exc.usage.strip()}\nSee `dsclient --help`.\n")
        return ExitStatus.USAGE
    except UsageError as exc:
        return fail(str(exc), ExitStatus.USAGE)
    except (ApiError, TransportError, ExistingFile) as exc:
        return fail(describe(exc))
    except BrokenPipeError:
        # The reader went away (`dsclient download x -o - | head`): not worth a message. Point the
        # standard output at nothing, so Python's own flush at exit does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.ERROR
    except OSError as exc:
        return fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        stderr.write("\ndsclient: interrupted\n")
        return ExitStatus.INTERRUPTED


def program(argv: list[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """The main program without error handling: parse, call the API, print."""
    args = docopt(__doc__, argv, default_help=False)
    if args["--help"] or args["-h"]:
        stdout.write(__doc__.strip() + "\n")
        return ExitStatus.SUCCESS
    if args["--version"]:
        stdout.write(f"{__version__}\n")
        return ExitStatus.SUCCESS

    api = DatasetsApi(
        base_url_from(args["--url"] or os.environ.get("DSCLIENT_URL") or DEFAULT_URL),
        token=args["--token"] or os.environ.get("DSCLIENT_TOKEN") or None,
    )
    show_progress = not args["--quiet"] and stderr.isatty()

    if args["list"]:
        datasets = list(api.iter_datasets())
        if args["--json"]:
            stdout.write(to_json(datasets) + "\n")
        elif datasets:
            stdout.write(dataset_table(datasets) + "\n")
        else:
            stderr.write("No datasets yet: add one with `dsclient upload <file>`.\n")
        return ExitStatus.SUCCESS

    if args["upload"]:
        return upload(
            api, [Path(name) for name in args["<file>"]], args["--json"], show_progress, stdout, stderr
        )

    if args["info"]:
        dataset = api.info(args["<id>"][0])
        stdout.write((to_json(dataset) if args["--json"] else dataset_details(dataset)) + "\n")
        return ExitStatus.SUCCESS

    if args["delete"]:
        return for_each(args["<id>"], api.delete, stderr)

    dataset_id = args["<id>"][0]
    if args["excel"]:
        response, name_for, suffix = api.excel(dataset_id), xlsx_name, ".xlsx"
    else:
        response, name_for, suffix = api.content(dataset_id), safe_filename, ".json"
    return save(
        response,
        lambda: name_for(api.info(dataset_id)["filename"]),
        fallback=dataset_id + suffix,
        output=args["-o"],
        show_progress=show_progress,
        stdout=stdout,
        stderr=stderr,
    )


def base_url_from(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url!r} is not an http:// or https:// address")
    return url


def upload(
    api: DatasetsApi, paths: list[Path], as_json: bool, show_progress: bool, stdout: TextIO, stderr: TextIO
) -> ExitStatus:
    """Upload each file in turn; one rejected file does not stop the others, as with ``cp a b c dir``."""
    for path in paths:
        # Check every file before the first request, so a typo does not leave half a batch uploaded.
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from exc

    uploaded = []

    def send(path: Path) -> None:
        with progress_bar(stderr, path.stat().st_size, path.name, show_progress) as bar:
            uploaded.append(api.upload(path, on_progress=bar.update))

    try:
        return for_each(paths, send, stderr)
    finally:  # also when the network fails part-way: the ids already made must not be lost
        if as_json:
            stdout.write(to_json(uploaded) + "\n")
        elif uploaded:
            stdout.write(dataset_table(uploaded) + "\n")


def for_each(items: Sequence[Any], action: Callable[[Any], object], stderr: TextIO) -> ExitStatus:
    """Apply ``action`` to every item, reporting the API's refusals one by one.

    A network failure stops the batch: the next item would only fail the same way.
    """
    status = ExitStatus.SUCCESS
    for item in items:
        try:
            action(item)
        except ApiError as exc:
            stderr.write(f"dsclient: error: {printable(str(item))}: {describe(exc)}\n")
            status = ExitStatus.ERROR
    return status


def save(
    request: AbstractContextManager[Download],
    server_name: Callable[[], str | None],
    fallback: str,
    output: str | None,
    show_progress: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> ExitStatus:
    """Stream a download to ``output``: a file, a folder, ``-`` for stdout, or by default a file here.

    A name that comes from the server is reduced to a plain file name and never replaces an
    existing file (as ``curl -J`` does); a partly written file is removed if anything fails.
    """
    with request as download:
        if output == "-":
            sink: IO[bytes] = getattr(stdout, "buffer", stdout)
            with progress_bar(stderr, download.size, "stdout", show_progress) as bar:
                for chunk in download.chunks():
                    sink.write(chunk)
                    bar.update(len(chunk))
            sink.flush()
            return ExitStatus.SUCCESS

        if output is not None and not (output.endswith(("/", os.sep)) or Path(output).is_dir()):
            target, exclusive = Path(output), False
        else:
            # The answer's own Content-Disposition first; asking for the dataset's info costs a request.
            name = (
                safe_filename(download.filename or "")
                or server_name()
                or safe_filename(fallback)
                or "dataset"
            )
            target, exclusive = Path(output or ".") / name, True
        try:
            file = target.open("xb" if exclusive else "wb")
        except FileExistsError as exc:
            raise ExistingFile(
                f"{target} already exists; overwrite it with -o {target}, or pick another -o"
            ) from exc
        try:
            with file, progress_bar(stderr, download.size, target.name, show_progress) as bar:
                for chunk in download.chunks():
                    file.write(chunk)
                    bar.update(len(chunk))
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    return ExitStatus.SUCCESS


def safe_filename(name: str) -> str | None:
    """The last part of a path in either style, without control characters; None if nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(char for char in base if char.isprintable()).strip()
    return None if base in ("", ".", "..") else base


def usage_problem(exc: DocoptExit) -> str:
    """docopt's complaint without its internals: "unexpected 'lst'", not "[Argument(None, 'lst')]"."""
    detail = str(exc).removesuffix(exc.usage.strip()).strip()
    if not detail.startswith("Warning: found unmatched"):
        return detail or "missing arguments"
    # docopt-ng gives the leftovers only as reprs such as Argument(None, 'lst') or Option('-o', ...).
    leftovers = re.findall(r"\w+\((?:None, )?'([^']*)'", detail)
    if not leftovers:
        return detail
    if set(leftovers) <= COMMANDS:
        # A command is left over when the arguments it needs are not there, as in `dsclient info`.
        return f"{leftovers[0]!r} needs more arguments"
    return "unexpected " + ", ".join(repr(token) for token in leftovers)


def xlsx_name(filename: str) -> str | None:
    """``data.json`` gives ``data.xlsx``, as the API names its export."""
    base = safe_filename(filename)
    return base and f"{PurePosixPath(base).stem}.xlsx"


def describe(exc: Exception) -> str:
    """One line for a person: the API's own message, or what went wrong on the way to it."""
    if isinstance(exc, Unreachable):
        return (
            f"cannot reach the API at {exc.url} ({exc.reason}). Is the server running? "
            "Start it with `make run`, or point --url or DSCLIENT_URL at it."
        )
    if isinstance(exc, ApiError):
        hint = " (dsclient sends the token given by --token or DSCLIENT_TOKEN)" if exc.status == 401 else ""
        return f"{printable(exc.message)}{hint}"
    return printable(str(exc))
