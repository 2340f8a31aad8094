"""A preload that fails at import (forkd must not start)."""


def _helper():
    raise ImportError("pm_broken refuses to load")


_helper()
