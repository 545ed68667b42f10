"""Benchmarks of cgan_tf and of the source material's loop : figures, not tests.

Every measurement that trains runs in a fresh child process, so no run inherits another's traced
functions, thread pools or memory; repeated measurements alternate between the things compared, so a
drift in the machine's speed touches all alike, and the median is reported. Each subcommand prints a
Markdown section with the machine, the TensorFlow version and the exact command, ready for docs/benchmarks.md.

  python tools/benchmark.py                      # precision / XLA / replica variants (= variants)
  python tools/benchmark.py throughput           # steps/s, GFLOP/s: cgan_tf vs the baseline, also at equal work
  python tools/benchmark.py time_to_quality --flagfile=configs/fmnist_cpu.cfg --budget_minutes=120
  python tools/benchmark.py time_to_quality --from_jsonl=J --metric=frechet_distance --thresholds=250,200  # re-read
  python tools/benchmark.py efficiency           # step FLOPs / step time vs this machine's matmul rate
  python tools/benchmark.py pipeline             # tf.data alone vs what training consumes
  python tools/benchmark.py memory               # peak resident memory at equal settings, beside the source loop
  python tools/benchmark.py scaling              # step time vs batch size and vs image size
  python tools/benchmark.py profile --flagfile=configs/fmnist.cfg --precision=mixed_bfloat16  # op time by kind
  python tools/benchmark.py layers --onednn_verbose  # per-layer float32 vs bfloat16, and oneDNN's kernels
  python tools/benchmark.py iterator_release     # seconds to delete an idle training-stream iterator
  python tools/benchmark.py <subcommand> --quick # a smoke test of the subcommand (minutes, not figures)

Each subcommand is one module of tools/benchmarks/ (its arguments, its run and its child processes); this
script only dispatches. The baseline is tools/baseline_source_cgan.py (the source's Fashion-MNIST loop,
fixed for Keras 3).
"""

import argparse
import os
import sys
from typing import List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Before TensorFlow is imported, here or in a child.
if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.benchmarks import common  # noqa: E402
from tools.benchmarks import efficiency  # noqa: E402
from tools.benchmarks import iterator_release  # noqa: E402
from tools.benchmarks import layers  # noqa: E402
from tools.benchmarks import memory  # noqa: E402
from tools.benchmarks import pipeline  # noqa: E402
from tools.benchmarks import profile  # noqa: E402
from tools.benchmarks import scaling  # noqa: E402
from tools.benchmarks import throughput  # noqa: E402
from tools.benchmarks import time_to_quality  # noqa: E402
from tools.benchmarks import variants  # noqa: E402

# The subcommands in the order --help lists them, each named after its module. A module gives HELP,
# add_arguments(parser) and run(args), whose docstring is the subcommand's description.
MEASUREMENTS = (variants, throughput, time_to_quality, efficiency, pipeline, memory, scaling, layers, profile,
                iterator_release)
SUBCOMMANDS = tuple(module.__name__.rsplit(".", 1)[1] for module in MEASUREMENTS)
DEFAULT_SUBCOMMAND = "variants"


def build_parser() -> argparse.ArgumentParser:
  """The command line: one subcommand per measurement module."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  subparsers = parser.add_subparsers(dest="subcommand")
  for name, module in zip(SUBCOMMANDS, MEASUREMENTS):
    sub = subparsers.add_parser(name, help=module.HELP, description=module.run.__doc__)
    sub.set_defaults(run=module.run)
    module.add_arguments(sub)
  return parser


def subcommand_argv(argv: Sequence[str]) -> List[str]:
  """`argv` with the subcommand first: without one the variants table runs, as this script always did (its
  flags still work)."""
  argv = list(argv)
  if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
    argv = [DEFAULT_SUBCOMMAND] + argv
  return argv


def main(argv: Optional[Sequence[str]] = None) -> None:
  """Runs the subcommand `argv` names (default: the command line); a failed child exits with its output."""
  args = build_parser().parse_args(subcommand_argv(sys.argv[1:] if argv is None else argv))
  try:
    args.run(args)
  except common.ChildError as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  main()
