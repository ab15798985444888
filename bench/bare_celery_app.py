"""The baseline: a bare Celery app with a no-op task on the same Redis (no Reel in the path)."""

import os

from celery import Celery

app = Celery("bare", broker=os.environ["BARE_BROKER_URL"], backend=os.environ["BARE_BACKEND_URL"])
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False)


@app.task(name="bare.noop")
def noop(text: str) -> str:
    return text
