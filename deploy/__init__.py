"""Running the service: gunicorn settings and the embedded S3 server for local use and tests."""
