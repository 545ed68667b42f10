"""Holds a run directory's training lock, as a trainer would, until killed: another process in the way.

  python -m tests.helpers.hold_run_lock <run_dir>

Prints "held" once the lock is taken.
"""

import sys
import time

from cgan_tf.run_lock import RunLock


def main(run_dir: str) -> None:
  with RunLock(run_dir):
    print("held", flush=True)
    while True:
      time.sleep(60)


if __name__ == "__main__":
  main(sys.argv[1])
