"""The baseline: a bare Celery app with a no-op task on the same broker (no Reel in the path).

Redis by default; with ``BARE_FS_FOLDER`` kombu's filesystem transport there, polled as often
as Reel's embedded broker.
"""

import os

from celery import Celery

app = Celery("bare", broker=os.environ["BARE_BROKER_URL"], backend=os.environ["BARE_BACKEND_URL"])
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False)
if os.environ.get("BARE_FS_FOLDER"):
    folder = os.environ["BARE_FS_FOLDER"]
    app.conf.broker_transport_options = {
        "data_folder_in": f"{folder}/queue",
        "data_folder_out": f"{folder}/queue",
        "processed_folder": f"{folder}/processed",
        "control_folder": f"{folder}/control",
        "polling_interval": float(os.environ.get("BARE_FS_POLL_S", "0.05")),
    }


@app.task(name="bare.noop")
def noop(text: str) -> str:
    return text
