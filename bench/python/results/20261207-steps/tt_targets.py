import time
def stamp():
    return time.monotonic()
