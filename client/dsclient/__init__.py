"""dsclient: the command-line client for the datasets API."""

__version__ = "1.0.0"
