"""tools/benchmarks/iterator_release.py: times the deletion of cgan_tf's training-stream iterator."""

import pytest

from tools import benchmark
from tools.benchmarks import iterator_release


@pytest.mark.parametrize("stream", iterator_release.STREAMS)
def test_the_child_times_one_deletion_per_trial(stream):
  seconds = iterator_release.deletion_seconds(dict(stream=stream, hold=0, trials=2))["seconds"]
  assert len(seconds) == 2 and all(0 <= s < 60 for s in seconds)


@pytest.mark.parametrize("option", ["--trials=0", "--hold=-1", "--busy=-1"])
def test_bad_arguments_are_refused_before_anything_runs(option):
  args = benchmark.build_parser().parse_args(["iterator_release", option])
  with pytest.raises(SystemExit, match="--hold and --busy must be at least 0, --trials at least 1"):
    args.run(args)
