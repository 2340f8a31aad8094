"""Run by python:main in the tests: prints its argv and __name__."""
import sys

print("name=%s argv=%s" % (__name__, sys.argv[1:]))
if len(sys.argv) > 1 and sys.argv[1] == "fail":
    raise RuntimeError("main failed")
if len(sys.argv) > 1 and sys.argv[1].startswith("exit="):
    sys.exit(int(sys.argv[1][5:]))
if len(sys.argv) > 1 and sys.argv[1] == "process":
    import multiprocessing
    cur = multiprocessing.current_process()
    print(cur.name, bytes(cur.authkey).hex())
