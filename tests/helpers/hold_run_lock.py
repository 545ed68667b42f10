"""Holds a run directory's lock file as another trainer would, until killed: an flock and a record naming it.

  python -m tests.helpers.hold_run_lock <lock file>

Prints "held" once the lock is taken. It imports nothing of cgan_tf, so it holds the lock as the kernel
sees it, whoever took it, and starts without loading TensorFlow. Its record names host "elsewhere",
started "today", so a refusal can be checked for naming what the file says.
"""

import fcntl
import json
import os
import sys
import time


def main(lock_file: str) -> None:
  fd = os.open(lock_file, os.O_RDWR | os.O_CREAT)
  fcntl.flock(fd, fcntl.LOCK_EX)
  os.write(fd, json.dumps(dict(pid=os.getpid(), host="elsewhere", started="today")).encode())
  print("held", flush=True)
  while True:
    time.sleep(60)


if __name__ == "__main__":
  main(sys.argv[1])
