"""A module whose import leaves a mark (the file named by PP_MARKER): the
tests see whether a child imported it."""

import os

_path = os.environ.get("PP_MARKER")
if _path:
    with open(_path, "a") as f:
        f.write("imported\n")


class Marker(Warning):
    """A warning category, named by a -W option."""
