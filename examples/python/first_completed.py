#!/usr/bin/python3
"""Wait for the first of several children to finish: forkd.wait() as
concurrent.futures.wait(), or multiprocessing.connection.wait() on the
sentinels."""
import time
from multiprocessing.connection import wait as mp_wait

import forkd


def nap(seconds):
    time.sleep(seconds)
    return seconds


if __name__ == "__main__":
    procs = [forkd.Process(target=nap, args=(s,), name="nap-%s" % s)
             for s in (1.5, 0.1, 1.0)]
    for p in procs:
        p.start()
    done, not_done = forkd.wait(procs, return_when=forkd.FIRST_COMPLETED)
    first = done.pop()
    print("first to complete:", first.name, "returned", first.result())
    # The same with multiprocessing's wait() over the sentinels (pidfds).
    rest = {p.sentinel: p for p in not_done}
    ready = mp_wait(list(rest))
    print("next:", ", ".join(sorted(rest[fd].name for fd in ready)))
    for p in procs:
        p.join()
    print("all done:", sorted(p.result() for p in procs))
