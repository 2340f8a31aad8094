"""A preload that starts a thread at import (forkd must refuse it)."""
import threading
import time

_stop = threading.Event()
worker = threading.Thread(target=_stop.wait, name="pm-worker", daemon=True)
worker.start()
time.sleep(0.01)
