"""tools/iterator_release.py: times the deletion of cgan_tf's training-stream iterator."""

import pytest

from tools import iterator_release


@pytest.mark.parametrize("autotune", [[], ["--no_autotune"]])
def test_one_trial_times_one_deletion(autotune, capsys):
  [seconds] = iterator_release.main(["--hold=0", "--trials=1", "--busy=0", *autotune])
  assert 0 <= seconds < 60
  assert f"autotune {'off' if autotune else 'on'}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--trials=0"], ["--hold=-1"], ["--busy=-1"]])
def test_bad_arguments_are_refused(argv, capsys):
  with pytest.raises(SystemExit) as exited:
    iterator_release.main(argv)
  assert exited.value.code == 2 and "--hold and --busy must be at least 0, --trials at least 1" in capsys.readouterr().err
