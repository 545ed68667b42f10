"""What every measurement shares: the machine line, its arguments, Markdown tables, medians and child processes."""

import argparse
import importlib
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
from typing import Callable, Iterable, List, Optional, Sequence

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT_PREFIX = "BENCHMARK_RESULT "
PROGRESS_PREFIX = "PROGRESS "
# The source's recipe in cgan_tf (cdcgan, batch 128, Adam 2e-4/0.5): the baseline's identical architecture.
REFERENCE_FLAGFILES = ("configs/fmnist_reference.cfg", "configs/fmnist.cfg")
# The Fashion-MNIST preset users run.
PRESET_FLAGFILES = ("configs/fmnist.cfg", "configs/fmnist_reference.cfg")


class ChildError(RuntimeError):
  """A benchmark child process failed; the message ends with the tail of its output."""


# --- the machine and the command ------------------------------------------------------------------


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
  """The 1, 5 and 15 minute load averages, or "unknown"."""
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
  import keras  # The parent loads TensorFlow only once it measures (a child may need its environment first).
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
  """The exact command that is running, for pasting into docs/benchmarks.md."""
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


# --- the arguments every measurement has ---------------------------------------------------------


def first_existing(paths: Sequence[str]) -> str:
  """The first of `paths` (relative to the repository root) that exists, else the first."""
  return next((path for path in paths if os.path.isfile(os.path.join(REPO_ROOT, path))), paths[0])


def add_arguments(parser: argparse.ArgumentParser, flagfiles: Sequence[str] = REFERENCE_FLAGFILES) -> None:
  """Adds --quick and, with `flagfiles`, --flagfile (default: the first of them that exists).

  Args:
    parser: a measurement's subcommand parser.
    flagfiles: the presets the measurement defaults to, in order of preference; empty: no --flagfile here.
  """
  parser.add_argument("--quick", action="store_true", help="tiny settings: checks that the subcommand works")
  if flagfiles:
    parser.add_argument("--flagfile", default=first_existing(flagfiles),
                        help=f"the cgan_tf preset to measure (default: the first that exists of "
                             f"{', '.join(flagfiles)})")


def start_measurement(args: argparse.Namespace, full: dict, quick: dict) -> None:
  """Notes the machine line before anything runs, then fills every option left unset: from `quick` under
  --quick, else from `full`.

  Args:
    args: the parsed command line (changed in place).
    full: option -> its value for figures.
    quick: option -> its value for a smoke test (options absent here take their `full` value).
  """
  note_start()
  for name, value in full.items():
    if getattr(args, name) is None:
      setattr(args, name, quick.get(name, value) if args.quick else value)


def flagfile_path(path: str) -> str:
  """An absolute flagfile path (children run in the repository root); exits if it does not exist."""
  absolute = os.path.abspath(path)
  if not os.path.isfile(absolute) and os.path.isfile(os.path.join(REPO_ROOT, path)):
    absolute = os.path.join(REPO_ROOT, path)
  if not os.path.isfile(absolute):
    sys.exit(f"--flagfile: {path} does not exist")
  return absolute


# --- tables and figures --------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence], align: str = "") -> str:
  """A Markdown table; `align` is one character per column, 'l' or 'r' (default: first left, rest right)."""
  align = align or "l" + "r" * (len(headers) - 1)
  lines = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
  return "\n".join(lines)


def fmt(value: float, digits: int = 2) -> str:
  """`value` with thousands separators and `digits` decimals."""
  return f"{value:,.{digits}f}"


def median(values: Sequence[float]) -> float:
  """The median: the figure every measurement reports over its repeats."""
  return statistics.median(values)


def censored_median(values: Sequence[tuple]) -> tuple:
  """(median, exact) of (value, exact) pairs, where an inexact value is a lower bound (a run that had not
  reached a target by then). The median is monotone in each value, so the true one lies between the median
  of the bounds and the median with every bound made infinite: it is known when the two agree, and
  otherwise the first is a lower bound."""
  low = median([value for value, _ in values])
  high = median([value if is_exact else math.inf for value, is_exact in values])
  return low, high == low


# --- child processes -----------------------------------------------------------------------------


def child_target(child: Callable[[dict], dict]) -> str:
  """`module:function` of a child entry point, the name a fresh process imports it by.

  Raises:
    ValueError: `child` is not a module-level function of an importable module.
  """
  module, name = getattr(child, "__module__", None), getattr(child, "__qualname__", "")
  if not module or module == "__main__" or not name.isidentifier():
    raise ValueError(f"{child!r}: a child entry point is a module-level function of an importable module")
  return f"{module}:{name}"


def run_child(child: Callable[[dict], dict], spec: dict, timeout: Optional[float] = None,
              show_progress: bool = False) -> dict:
  """Runs one measurement in a fresh Python process and returns the dict it emitted.

  The process is `python -m tools.benchmarks MODULE:FUNCTION SPEC_JSON` in the repository root (see
  `child_main`), so it inherits no traced functions, thread pools or memory from this one.

  Args:
    child: the child entry point, a module-level function taking the spec and returning a JSON-ready dict.
    spec: its arguments (JSON-serializable).
    timeout: seconds before the child is killed.
    show_progress: echo the child's PROGRESS lines to stderr as they come (long runs).

  Raises:
    ChildError: if the child fails, times out or emits no result.
  """
  target = child_target(child)
  name = target.split(":")[1]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
  args = [sys.executable, "-m", "tools.benchmarks", target, json.dumps(spec)]
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
        print(f"  [{spec.get('name', name)}] {line[len(PROGRESS_PREFIX):].strip()}", file=sys.stderr, flush=True)
    process.wait()
    if timer:
      timer.cancel()
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  if process.returncode != 0 or result is None:
    raise ChildError(f"{name} child exited with {process.returncode}"
                     f"{' (killed after ' + str(timeout) + ' s)' if timeout and process.returncode < 0 else ''}"
                     f":\n{''.join(lines[-60:])}")
  return result


def child_main(argv: Sequence[str]) -> None:
  """The child's side of `run_child`: calls MODULE:FUNCTION with the spec and hands its result back.

  Args:
    argv: [MODULE:FUNCTION, SPEC_JSON].
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  target, spec = argv
  module, name = target.split(":")
  emit_result(getattr(importlib.import_module(module), name)(json.loads(spec)))


def emit_result(result: dict) -> None:
  """In a child: hands the result to the parent (one tagged JSON line on stdout)."""
  print(RESULT_PREFIX + json.dumps(result), flush=True)


def progress(record: dict) -> None:
  """In a child: a line the parent echoes under `run_child(..., show_progress=True)`."""
  print(PROGRESS_PREFIX + json.dumps(record), flush=True)


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
