"""gunicorn's settings for `gunicorn 'server.app:create_app()'` run from the project's folder.

Threads in each worker (gthread): a request waiting on PostgreSQL (a COMMIT's flush to disk,
a row lock) leaves the worker's CPU to another request instead of idling it. Set the counts
with GUNICORN_WORKERS / GUNICORN_THREADS (or gunicorn's own -w / --threads, which win)."""
import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
