"""Exit statuses, the part of the command line that scripts rely on most."""

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    # The API or the network said no, or a local file could not be written.
    ERROR = 1
    # The command line itself is wrong: docopt rejected it, or a named input file is unusable.
    USAGE = 2
    # 128 + SIGINT, what shells report for a command stopped with Ctrl-C.
    INTERRUPTED = 130
