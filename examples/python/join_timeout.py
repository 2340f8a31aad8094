#!/usr/bin/python3
"""join() with a timeout returns while the child still runs; terminate()
ends it, and exitcode is then -SIGTERM."""
import signal
import time

import forkd


def slow():
    time.sleep(60)


if __name__ == "__main__":
    p = forkd.Process(target=slow)
    p.start()
    p.join(timeout=0.5)
    print("after join(0.5): alive", p.is_alive(), "exitcode", p.exitcode)
    p.terminate()
    p.join()
    print("after terminate(): exitcode", p.exitcode,
          "(-SIGTERM is %d)" % -signal.SIGTERM)
