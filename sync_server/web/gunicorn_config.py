"""gunicorn's settings for the sync server: `gunicorn -c python:sync_server.web.gunicorn_config
"sync_server:create_app()"` (the production unit, systemd/server/refectory-server.service).

Threads, not processes, serve requests (gthread): each kiosk keeps a long-poll open on the pull
endpoint, waiting on a condition, using no CPU and no database connection, and a thread per open
wait is what gthread gives it. Sync workers would hold a whole process per wait, so two kiosks
waiting would stop the portal. 2 workers x 256 threads hold 400 kiosks' waits with room for the
portal's requests (docs/operations.md has the measurements); add threads, not workers, for more kiosks.
Settings given on the command line win over these.
"""

from __future__ import annotations

import signal

from sync_server.sync import feed_wait
from sync_server.web import heap

worker_class = "gthread"
workers = 2
threads = 256
timeout = 30  # gthread: the worker's heartbeat, not a request's length (a long-poll holds 30 s at most)
graceful_timeout = 20
# Longer than a proxy's idle keep-alive to us (nginx's upstream `keepalive_timeout`, 60 s by default):
# if gunicorn closed an idle connection first, a request nginx sends on it at that moment is reset,
# and nginx counts the app server as failed.
keepalive = 75


def post_worker_init(worker) -> None:
    """The worker's start-up objects out of the garbage collector's way (sync_server/web/heap.py).
    On SIGTERM (a stop or a restart), answer the waiting pulls at once before gunicorn's graceful
    stop waits for the requests in flight: otherwise each open long-poll holds the stop for its wait."""
    heap.settle()
    stopping = signal.getsignal(signal.SIGTERM)

    def release_then_stop(signum, frame) -> None:
        feed_wait.release_all()
        stopping(signum, frame)

    signal.signal(signal.SIGTERM, release_then_stop)
