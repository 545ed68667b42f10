"""A measurement's child process: `python -m tools.benchmarks MODULE:FUNCTION SPEC_JSON` (common.run_child).

Nothing here imports TensorFlow, so a child can set the environment it must be loaded with (oneDNN's
options, for the layers measurement) before its entry point imports it.
"""

import sys

from tools.benchmarks import common

if __name__ == "__main__":
  common.child_main(sys.argv[1:])
