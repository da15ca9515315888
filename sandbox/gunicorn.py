"""gunicorn settings of the sandbox server: one process with many threads (its state is in its database, and 32
customers paying at once must never wait for a free thread), and the delivery loop started inside that process."""

import os

workers = 1
threads = int(os.environ.get("SANDBOX_THREADS", "64"))
timeout = 120
graceful_timeout = 10
accesslog = None


def post_worker_init(worker) -> None:  # gunicorn calls this in the worker once the app is loaded
    # Imported here, not at the top: gunicorn reads this file before Django is set up, and the delivery loop needs
    # the sandbox's models.
    from sandbox.delivery import start_delivery_threads

    start_delivery_threads()


def worker_exit(server, worker) -> None:
    from sandbox.delivery import stop_delivery_threads

    stop_delivery_threads()
