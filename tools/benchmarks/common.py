"""What every benchmark shares: the machine line, the command line, child processes and Markdown tables."""

import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
from typing import Iterable, List, Optional, Sequence

TOOLS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
BENCHMARK_SCRIPT = os.path.join(TOOLS_DIR, "benchmark.py")
RESULT_PREFIX = "BENCHMARK_RESULT "
PROGRESS_PREFIX = "PROGRESS "
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
# Bookkeeping intervals beyond any benchmark's length: no checkpoint, grid or summary inside a timed window.
NEVER = 10 ** 9


class ChildError(RuntimeError):
  """A benchmark child process failed; the message ends with the tail of its output."""


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.lower().startswith(("model name", "hardware", "cpu model")):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def load_average() -> str:
  try:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
  except OSError:
    return "unknown"


_MACHINE_AT_START = []


def note_start() -> None:
  """Remembers the machine line (with its load average) before any measurement runs."""
  _MACHINE_AT_START[:] = [machine()]


def machine() -> str:
  """One line naming the hardware and software the figures were measured on."""
  import keras
  import tensorflow as tf

  usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
  return (f"{cpu_model()}, {os.cpu_count()} logical CPUs ({usable} usable by this process), "
          f"{platform.system()} {platform.machine()}, "
          f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"GPUs: {', '.join(gpus) if gpus else 'none'}; load average {load_average()} at start")


def machine_at_start() -> str:
  """The machine line `note_start` remembered (measured now if it was not called)."""
  return _MACHINE_AT_START[0] if _MACHINE_AT_START else machine()


def command() -> str:
  """The exact command that is running, for pasting into BENCHMARKS.md."""
  script = os.path.relpath(os.path.abspath(sys.argv[0]), os.getcwd())
  return " ".join(["python", shlex.quote(script)] + [shlex.quote(arg) for arg in sys.argv[1:]])


def print_header(title: str, notes: Iterable[str] = ()) -> None:
  """Prints a Markdown section header with the machine and the command, then the notes."""
  print(f"\n### {title}\n")
  print(f"Machine: {machine_at_start()}, {load_average()} at end  ")
  print(f"Command: `{command()}`\n")
  # Blank lines between notes: Markdown would run consecutive lines into one paragraph.
  print("\n\n".join(note for note in notes if note))
  print()


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence], align: str = "") -> str:
  """A Markdown table; `align` is one character per column, 'l' or 'r' (default: first left, rest right)."""
  align = align or "l" + "r" * (len(headers) - 1)
  lines = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
  return "\n".join(lines)


# What a time-to-quality target can be on (tools/benchmarks/quality.py), and whether higher is better.
QUALITY_TARGETS = {"conditional_accuracy": True, "frechet_distance": False}
# The field of each target in a check's JSONL record.
CHECK_FIELDS = {"conditional_accuracy": "accuracy", "frechet_distance": "frechet_distance"}


def reached(metric: str, value: float, threshold: float) -> bool:
  """Whether `value` of `metric` is at or beyond `threshold` in the metric's better direction."""
  return value >= threshold if QUALITY_TARGETS[metric] else value <= threshold


def read_check_runs(path: str) -> List[tuple]:
  """The runs a time-to-quality JSONL holds, in the order they ran, as (name, seed, checks).

  A run is a stretch of lines of one name (and seed, where the record has one) whose steps rise; a new run
  begins where either changes or the step does not rise. Records without a seed get the run's place
  among the runs of its name (0, 1, ...), which is its seed's place in --seeds.
  """
  runs = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
        key, step = (record["run"], record.get("seed")), int(record["step"])
        for field in ("train_seconds", *CHECK_FIELDS.values()):
          float(record[field])
      except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}:{number}: not a check record of tools/benchmark.py time_to_quality ({e!r})") from e
      if runs and runs[-1][0] == key and step > runs[-1][1][-1]["step"]:
        runs[-1][1].append(record)
      else:
        runs.append((key, [record]))
  places = {}
  named = []
  for (name, seed), checks in runs:
    place = places[name] = places.get(name, -1) + 1
    named.append((name, place if seed is None else seed, checks))
  return named


def first_reached(checks: Sequence[dict], metric: str, threshold: float) -> Optional[dict]:
  """The first of a run's `checks` (JSONL records) whose `metric` reaches `threshold`, or None."""
  return next((check for check in checks if reached(metric, check[CHECK_FIELDS[metric]], threshold)), None)


def censored_median(values: Sequence[tuple]) -> tuple:
  """(median, exact) of (value, exact) pairs, where an inexact value is a lower bound (a run that had not
  reached a target by then). The median is monotone in each value, so the true one lies between the median
  of the bounds and the median with every bound made infinite: it is known when the two agree, and
  otherwise the first is a lower bound."""
  low = median([value for value, _ in values])
  high = median([value if is_exact else math.inf for value, is_exact in values])
  return low, high == low


def median(values: Sequence[float]) -> float:
  return statistics.median(values)


def emit_result(result: dict) -> None:
  """In a child: hands the result to the parent (one tagged JSON line on stdout)."""
  print(RESULT_PREFIX + json.dumps(result), flush=True)


def peak_memory() -> dict:
  """This process's peak resident memory: ru_maxrss and /proc/self/status VmHWM, in MiB."""
  import resource

  peak = {"ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("VmHWM:"):
          peak["vm_hwm_mib"] = int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return peak


def run_child(kind: str, spec: dict, timeout: Optional[float] = None, show_progress: bool = False) -> dict:
  """Runs one measurement in a fresh Python process and returns the dict it emitted.

  Args:
    kind: the child entry point (see children.ENTRY_POINTS).
    spec: its arguments (JSON-serializable).
    timeout: seconds before the child is killed.
    show_progress: echo the child's PROGRESS lines to stderr as they come (long runs).

  Raises:
    ChildError: if the child fails, times out or emits no result.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
  args = [sys.executable, BENCHMARK_SCRIPT, "--child", json.dumps(dict(spec, kind=kind))]
  process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
                             env=env)
  lines: List[str] = []
  result = None
  try:
    timer = threading.Timer(timeout, process.kill) if timeout else None
    if timer:
      timer.start()
    for line in process.stdout:
      if line.startswith(RESULT_PREFIX):
        result = json.loads(line[len(RESULT_PREFIX):])
        continue
      lines.append(line)
      del lines[:-200]
      if show_progress and line.startswith(PROGRESS_PREFIX):
        print(f"  [{spec.get('name', kind)}] {line[len(PROGRESS_PREFIX):].strip()}", file=sys.stderr, flush=True)
    process.wait()
    if timer:
      timer.cancel()
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  if process.returncode != 0 or result is None:
    raise ChildError(f"{kind} child exited with {process.returncode}"
                     f"{' (killed after ' + str(timeout) + ' s)' if timeout and process.returncode < 0 else ''}"
                     f":\n{''.join(lines[-60:])}")
  return result
