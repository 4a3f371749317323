"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

A full garbage collection scans every object a worker holds, all of Django and the project
included (~170,000 objects, ~120 ms on a 2-core machine); list pages that build many model
instances trigger one every hundred-odd requests, which is what set the editor reads' p99 (see
bench/README.md: 229 ms → 77 ms at 10 clients). Freezing the objects loaded at start-up takes
them out of the collector's sight; everything a request allocates is still collected.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 60  # an action call may take 45 s
graceful_timeout = 5


def post_worker_init(worker):
    import config.urls  # noqa: F401 - load the URLconf (DRF, the views) before freezing

    gc.freeze()
