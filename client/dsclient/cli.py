"""dsclient: upload JSON datasets, list them, see their tables, export them to Excel or CSV, download them.

Usage:
  dsclient [options] list
  dsclient [options] upload <file>...
  dsclient [options] info <id>
  dsclient [options] delete <id>...
  dsclient [options] tables <id> [--root=<pointer>]
  dsclient [options] excel <id> [--root=<pointer>] [-o <path>]
  dsclient [options] csv <id> [--table=<name>] [--root=<pointer>] [-o <path>]
  dsclient [options] download <id> [-o <path>]
  dsclient (-h | --help | --version)

Options:
  --url=<url>     API address [env DSCLIENT_URL, default http://127.0.0.1:8000]
  --token=<tok>   bearer token [env DSCLIENT_TOKEN]
  --json          print machine-readable JSON instead of a table
  -q, --quiet     no progress bars
  -o <path>       where excel, csv and download write: a file (replaced if it exists;
                  through a symbolic link, the file it points at), a device or pipe such
                  as /dev/null (written into), a folder, or - for stdout. Without -o, or
                  into a folder, they use the dataset's name and never replace a file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import IO, Any, TextIO
from urllib.parse import urlsplit

from docopt import DocoptExit, docopt

from dsclient import __version__
from dsclient.api import ApiError, DatasetsApi, Download, TransportError, Unreachable
from dsclient.output import (
    dataset_details,
    dataset_table,
    printable,
    progress_bar,
    tables_table,
    ticking,
    to_json,
)
from dsclient.status import ExitStatus

DEFAULT_URL = "http://127.0.0.1:8000"
COMMANDS = {"list", "upload", "info", "delete", "tables", "excel", "csv", "download"}


class UsageError(Exception):
    """The command line names something unusable; reported like docopt's errors, with exit status 2."""


class ExistingFile(Exception):
    """A name chosen by the server would overwrite a file the user did not name."""


class Errors:
    """Where failures are told: ``dsclient: error: ...`` lines, or with --json one
    ``{"message": ...}`` object per line, for scripts."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream = stream
        self.as_json = as_json

    def report(self, message: str) -> None:
        self.stream.write(
            (json.dumps({"message": message}) if self.as_json else f"dsclient: error: {message}") + "\n"
        )


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command and turn every failure into a message on stderr and an exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that even a usage error reaches a script as JSON.
    errors = Errors(stderr, as_json="--json" in arguments)

    def fail(message: str, status: ExitStatus = ExitStatus.ERROR) -> int:
        errors.report(message)
        return status

    try:
        return program(arguments, stdout, stderr, errors)
    except DocoptExit as exc:
        if errors.as_json:
            return fail(f"{usage_problem(exc)}; see `dsclient --help`", ExitStatus.USAGE)
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
        if not errors.as_json:
            stderr.write("\n")
        return fail("interrupted", ExitStatus.INTERRUPTED)


def program(argv: list[str], stdout: TextIO, stderr: TextIO, errors: Errors) -> ExitStatus:
    """The main program without error handling: parse, call the API, print."""
    args = docopt(__doc__, argv, default_help=False)
    errors.as_json = bool(args["--json"])  # docopt also takes an abbreviation such as --js
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
            api, [Path(name) for name in args["<file>"]], args["--json"], show_progress, stdout, errors
        )

    if args["delete"]:
        return for_each(args["<id>"], api.delete, errors)

    dataset_id = args["<id>"][0]
    if args["info"]:
        dataset = api.info(dataset_id)
        stdout.write((to_json(dataset) if args["--json"] else dataset_details(dataset)) + "\n")
        return ExitStatus.SUCCESS

    if args["tables"]:
        listing = api.tables(dataset_id, root=args["--root"])
        stdout.write((to_json(listing) if args["--json"] else tables_table(listing["tables"])) + "\n")
        return ExitStatus.SUCCESS

    root, table = args["--root"], args["--table"]
    if args["excel"]:
        request, name_for = api.excel(dataset_id, root=root), xlsx_name
    elif args["csv"]:
        request, name_for = api.csv(dataset_id, table=table, root=root), lambda name: csv_name(name, table)
    else:
        request, name_for = api.content(dataset_id), safe_filename
    return save(
        request,
        lambda: name_for(api.info(dataset_id)["filename"]) or name_for(f"{dataset_id}.json"),
        output=args["-o"],
        label=f"{dataset_id}: waiting for the server",
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
    api: DatasetsApi, paths: list[Path], as_json: bool, show_progress: bool, stdout: TextIO, errors: Errors
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
        with progress_bar(errors.stream, path.stat().st_size, path.name, show_progress) as bar:
            uploaded.append(api.upload(path, on_progress=bar.update))

    try:
        return for_each(paths, send, errors)
    finally:  # also when the network fails part-way: the ids already made must not be lost
        if as_json:
            stdout.write(to_json(uploaded) + "\n")
        elif uploaded:
            stdout.write(dataset_table(uploaded) + "\n")


def for_each(items: Sequence[Any], action: Callable[[Any], object], errors: Errors) -> ExitStatus:
    """Apply ``action`` to every item, reporting the API's refusals one by one.

    A network failure stops the batch: the next item would only fail the same way.
    """
    status = ExitStatus.SUCCESS
    for item in items:
        try:
            action(item)
        except ApiError as exc:
            errors.report(f"{printable(str(item))}: {describe(exc)}")
            status = ExitStatus.ERROR
    return status


def save(
    request: AbstractContextManager[Download],
    server_name: Callable[[], str | None],
    output: str | None,
    label: str,
    show_progress: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> ExitStatus:
    """Stream a download to ``output``: a file, a folder, ``-`` for stdout, or by default a file here.

    The one rule for every command that writes a file: a file named with ``-o`` is replaced (the
    file a symbolic link points at, never the link; a device or a pipe is written into, never
    replaced); a name that comes from the server (no ``-o``, or ``-o`` a folder) is reduced to a plain file
    name and never replaces an existing file, as ``curl -J`` does. Bytes go to a temporary file
    beside the target, which gets the target's name only once the download is complete, so a
    failure leaves no partial file. The bar is drawn from the start: a first export may take a
    while before its first byte.
    """
    named = (
        output is not None and output != "-" and not (output.endswith(("/", os.sep)) or Path(output).is_dir())
    )
    with ticking(progress_bar(stderr, None, label, show_progress)) as bar, request as download:
        bar.total = download.size
        if output == "-":
            bar.set_description("stdout")
            sink: IO[bytes] = getattr(stdout, "buffer", stdout)
            copy(download.chunks(), sink, bar.update)
            sink.flush()
            return ExitStatus.SUCCESS
        if named:
            target = Path(output)
            if target.is_symlink():  # replace what the link points at; the link stays a link
                target = target.resolve()
            if target.exists() and not target.is_file():  # a device or a pipe: /dev/null, a FIFO
                bar.set_description(printable(target.name))
                with target.open("wb") as sink:
                    copy(download.chunks(), sink, bar.update)
                return ExitStatus.SUCCESS
        else:
            # The answer's own Content-Disposition first; asking for the dataset's info costs a request.
            name = safe_filename(download.filename or "") or server_name() or "dataset"
            target = Path(output or ".") / name
            if target.exists():
                raise ExistingFile(
                    f"{target} already exists; replace it with -o {target}, or pick another -o"
                )
        bar.set_description(printable(target.name))
        write_whole(target, download.chunks(), bar.update, replace=named)
    return ExitStatus.SUCCESS


def write_whole(
    target: Path, chunks: Iterable[bytes], on_write: Callable[[int], object], replace: bool
) -> None:
    """Write ``chunks`` to ``target`` by way of a temporary file beside it, renamed once complete."""
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        file = part.open("xb")  # "x", not mkstemp: the file gets the usual permissions
    except OSError as exc:  # a missing or read-only folder: name the file the user asked for
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    try:
        with file:
            copy(chunks, file, on_write)
        if not replace and target.exists():
            raise ExistingFile(f"{target} appeared while downloading; the download was not kept")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def copy(chunks: Iterable[bytes], sink: IO[bytes], on_write: Callable[[int], object]) -> None:
    for chunk in chunks:
        sink.write(chunk)
        on_write(len(chunk))


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
    # A command is left over when the arguments it needs are not there, as in `dsclient info`;
    # options given with it (`dsclient --json info`) are left over too, but are not the problem.
    words = [token for token in leftovers if not token.startswith("-")]
    if words and set(words) <= COMMANDS:
        return f"{words[0]!r} needs more arguments"
    return "unexpected " + ", ".join(repr(token) for token in leftovers)


def xlsx_name(filename: str) -> str | None:
    """``data.json`` gives ``data.xlsx``, as the API names its export."""
    base = safe_filename(filename)
    return base and f"{PurePosixPath(base).stem}.xlsx"


def csv_name(filename: str, table: str | None) -> str | None:
    """``data.json`` gives ``data.csv``, and its table ``orders`` ``data-orders.csv``, as the API names them."""
    base = safe_filename(filename)
    suffix = f"-{table}" if table else ""
    return base and safe_filename(f"{PurePosixPath(base).stem}{suffix}.csv")


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
