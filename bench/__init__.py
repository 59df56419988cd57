"""Benchmarks of the live API against what a client talking to S3 directly sees (``make bench``)."""
