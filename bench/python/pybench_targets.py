"""Targets of bench_python.py: importable by name by forkd's python module
(path= holds this directory) and by multiprocessing's children."""

import os


def noop():
    return None


def square(x):
    return x * x


def first_byte_fd():
    """forkd: stdout is the parent's pipe; write one byte at once."""
    os.write(1, b"x")


def first_byte_conn(conn):
    """multiprocessing: one byte on the Connection given."""
    conn.send_bytes(b"x")
