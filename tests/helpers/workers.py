"""The one two-worker launcher: free ports, two `--strategy=multi_worker` processes, and waiting for them."""

import json
import os
import socket
import subprocess
import sys
import time

from tests.helpers.data import REPO_ROOT
from tests.helpers.runs import SMALL_NETWORK_FLAGS

def free_ports(count: int) -> list:
  """`count` TCP ports on 127.0.0.1 that were free a moment ago, all different (each socket stays bound
  until every port is chosen)."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(run_dir: str, idx_dir: str, train_steps: int, *, collective_timeout: int,
                  extra_flags=()) -> list:
  """Two `--strategy=multi_worker` processes of one job on the synthetic IDX set, worker 0 the chief.

  `collective_timeout` (seconds) bounds how long a worker waits for a dead or stopped peer.
  The networks are SMALL_NETWORKS' widths (what the tests show does not depend on them); `extra_flags` are
  appended to the command line, so theirs win. Each process's stderr goes to a file beside
  `run_dir` (outside it, so the run directory holds only what the job wrote), named by its `log_path`:
  a pipe could fill and block the worker while a test polls instead of reading.
  """
  workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
  procs = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CGAN_TF_COLLECTIVE_TIMEOUT=str(collective_timeout),
               TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
    cmd = [sys.executable, "-m", "cgan_tf.main", "--strategy=multi_worker", f"--run_dir={run_dir}",
           "--dataset=synthetic", "--data_source=idx", f"--data_dir={idx_dir}", "--batch_size=32",
           f"--train_steps={train_steps}", "--checkpoint_every=2", "--verbose=0", "--eval_every=0",
           "--nokeep_best", "--precision=float32", *SMALL_NETWORK_FLAGS, *extra_flags]
    log_path = f"{run_dir}.worker{index}.{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
      proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log_path = log_path
    procs.append(proc)
  return procs


def finish(procs, timeout: float = 300) -> list:
  """Waits for each process in turn; returns [(exit code, stderr)]. Any still running when this returns
  or raises (a timeout) is killed: no test leaves a worker behind."""
  outputs = []
  try:
    for proc in procs:
      proc.wait(timeout=timeout)
      with open(proc.log_path) as log:
        outputs.append((proc.returncode, log.read()))
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
  return outputs
