"""gunicorn's settings for `gunicorn 'server.app:create_app()'` run from the project's folder.

Workers are processes (GUNICORN_WORKERS, default 2). GUNICORN_THREADS > 1 gives each worker
threads (gthread): that helps when requests mostly wait on PostgreSQL (a busy disk, row locks),
and costs when they are CPU-bound, as the API's are on an idle database (bench_http.py measured
sync workers ahead: balance 626 vs 288 req/s with 4 threads). gunicorn's own -w / --threads win."""
import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
