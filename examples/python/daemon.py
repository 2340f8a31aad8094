#!/usr/bin/python3
"""The daemon flag: a daemon child ends with the connection that started it
(at the latest when its parent exits); a non-daemon child runs on, and is
joined at exit as multiprocessing does."""
import time
from multiprocessing.connection import wait

import forkd


def sleep_forever():
    while True:
        time.sleep(1)


def work():
    time.sleep(0.2)
    print("non-daemon child: done")


if __name__ == "__main__":
    conn = forkd.connect()      # FORKD_SOCKET, FORKD_KEY_FILE
    d = forkd.Process(target=sleep_forever, daemon=True, connection=conn)
    n = forkd.Process(target=work, daemon=False)
    d.start()
    n.start()
    print("daemon child alive:", d.is_alive(), "daemon:", d.daemon)
    conn.close()                # as if this process had exited
    if wait([d.sentinel], timeout=10):
        print("daemon child ended when its connection closed")
    else:
        raise SystemExit("daemon child still running")
    n.join()
    print("non-daemon child exitcode:", n.exitcode)
