"""datasets-api: JSON datasets in S3-compatible storage, exported as Excel workbooks."""

import logging
from typing import Any

from flask import Flask

from . import api, config, json_syntax, storage, web

log = logging.getLogger(__name__)

# Room for the multipart envelope around the largest allowed file.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, or (as Flask's tutorial does) from ``test_config`` laid
    over the defaults: a test's app never inherits the settings of the shell it runs in."""
    app = Flask(__name__)
    # /datasets and /datasets/<id> answer like their slashed forms instead of redirecting with an
    # HTML body: scripts and curl users rarely follow redirects on POST or DELETE.
    app.url_map.strict_slashes = False
    app.config.from_mapping(config.from_environment() if test_config is None else config.from_environment({}))
    app.config.update(
        RESTX_MASK_SWAGGER=False,  # no X-Fields mask parameter in the docs
        RESTX_ERROR_404_HELP=False,  # no "did you mean" suggestions appended to 404 messages
        SWAGGER_UI_DOC_EXPANSION="list",  # Swagger UI opens with every call listed
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    config.check(app.config)
    # Werkzeug refuses larger bodies with 413 before reading them.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + MULTIPART_OVERHEAD
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("uploads are checked by %s", json_syntax.VALIDATOR)

    storage.init_app(app)
    web.init_app(app)  # before the API, whose Api claims / for itself (an empty 404)
    api.init_app(app)
    return app
