"""A preload that leaves unflushed output in sys.stdout and sys.stderr at
import: it must reach forkd's own stdout/stderr once, and no child's."""
import sys

sys.stdout.write("pm_chatty-out")
sys.stderr.write("pm_chatty-err")
