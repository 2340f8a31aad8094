#!/usr/bin/python3
"""asyncio: loop.run_in_executor() with a forkd.Executor runs blocking or
CPU-bound functions in fresh children while the event loop goes on."""
import asyncio
import os

import forkd


def crunch(n):
    return sum(i * i for i in range(n)), os.getpid()


async def main():
    loop = asyncio.get_running_loop()
    with forkd.Executor(max_workers=4) as ex:
        tasks = [loop.run_in_executor(ex, crunch, n)
                 for n in (10_000, 20_000, 30_000)]
        for n, (total, pid) in zip((10_000, 20_000, 30_000),
                                   await asyncio.gather(*tasks)):
            print("sum of squares below %d = %d (child %d)" % (n, total, pid))


if __name__ == "__main__":
    asyncio.run(main())
