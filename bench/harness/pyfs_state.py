"""Preloaded state for the Python forkserver anchor of forkd's benchmark.

The forkserver imports this module once (multiprocessing's
set_forkserver_preload), so every child starts with STATE already in
memory, shared copy-on-write, as forkd's bench module does with size_mb=N.
N comes from $FORKD_BENCH_STATE_MB. Every page is written, not just
reserved: bytearray(b"Z") * n fills the buffer.
"""
import os

SIZE_MB = int(os.environ.get("FORKD_BENCH_STATE_MB", "0"))
STATE = bytearray(b"Z") * (SIZE_MB << 20)
