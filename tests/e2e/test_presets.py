"""Every preset in configs/ explains itself, validates, and trains; the circle GAN learns its circle; the
presets are found from any directory, as an installed package needs."""

import glob
import json
import os
import re
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import numpy as np
import pytest

from cgan_tf import main
from cgan_tf import networks
from cgan_tf import train
from cgan_tf import validation
from tests.helpers.data import REPO_ROOT
from tests.helpers.presets import parse_preset

FLAGS = flags.FLAGS
PRESETS = sorted(os.path.relpath(path, REPO_ROOT) for path in glob.glob(os.path.join(REPO_ROOT, "configs", "*.cfg")))


def test_the_presets_are_all_here():
  names = {os.path.basename(p) for p in PRESETS}
  assert {"smoke.cfg", "fmnist.cfg", "fmnist_reference.cfg", "fmnist_cpu.cfg", "circle.cfg", "fmnist_mlp.cfg",
          "mnist_mlp.cfg", "keras_book_cgan.cfg", "keras_book_dcgan.cfg", "fmnist_dcgan.cfg",
          "mnist_cdcgan.cfg", "fmnist_resnet.cfg"} <= names


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_opens_with_what_how_cost_and_expectation(preset):
  text = open(os.path.join(REPO_ROOT, preset)).read()
  header = [line for line in text.splitlines() if line.startswith("#")]
  assert len(header) >= 3 and text.startswith("#")
  assert f"--flagfile={preset}" in text, "the header gives the exact command"
  assert re.search(r"^# Cost:", text, re.M) and re.search(r"^# Expect", text, re.M)
  assert not re.search(r"COST_|RESULT_", text), "an unfilled placeholder"


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_validates_and_trains_two_steps(preset, idx_dir, tmp_path):
  config = parse_preset(preset, f"--run_dir={tmp_path / 'run'}")
  spec = networks.get(config.network)
  if spec.data_kind == "image":  # Offline and fast: the synthetic Fashion-MNIST-shaped set of the tests.
    config = config.replace(dataset="synthetic", data_source="idx", data_dir=idx_dir)
  config = validation.validate(config.replace(
      train_steps=2 * config.steps_per_execution, batch_size=min(config.batch_size, 16), epochs=1,
      train_minutes=0.0, eval_every=0, keep_best=False, verbose=0, checkpoint_every=config.steps_per_execution,
      sample_every=config.steps_per_execution, log_every=config.steps_per_execution))
  model = train.train(config)
  assert int(model.step_counter.numpy()) == 2 * config.steps_per_execution
  assert os.path.exists(os.path.join(config.run_dir, "config.json"))
  assert glob.glob(os.path.join(config.run_dir, "samples", "grid_*.png"))


@pytest.mark.slow
def test_circle_preset_puts_the_generated_points_on_the_circle(tmp_path):
  """The whole preset (3,000 steps, well under a minute): the statistics it prints must match the circle's."""
  config = parse_preset("configs/circle.cfg", f"--run_dir={tmp_path / 'circle'}")
  train.train(config)
  report = json.load(open(os.path.join(config.run_dir, "points_report.json")))
  real, generated = report["real"], report["generated"]
  assert os.path.exists(os.path.join(config.run_dir, "scatter.png"))
  assert real["mean_radius"] == pytest.approx(1.0, abs=1e-6) and real["std_radius"] < 1e-6
  # Points on the circle, and all of it covered (a collapsed G has small std of x or y).
  assert generated["mean_radius"] == pytest.approx(1.0, abs=0.1)
  assert generated["std_radius"] < 0.2
  for axis in ("x", "y"):
    assert abs(generated[f"mean_{axis}"]) < 0.15
    assert generated[f"std_{axis}"] == pytest.approx(np.sqrt(0.5), abs=0.1)


# --- Finding the presets from anywhere --------------------------------------------------------------


def test_the_package_ships_every_preset():
  packaged = sorted(name for name in os.listdir(main.PRESETS_DIR) if name.endswith(".cfg"))
  assert packaged == sorted(os.path.basename(p) for p in PRESETS)
  assert main.preset_names() == [name[:-len(".cfg")] for name in packaged]


def test_flagfile_and_preset_resolve_to_the_packaged_copies_outside_a_checkout(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # No configs/ here.
  packaged = lambda name: os.path.join(main.PRESETS_DIR, name + ".cfg")  # noqa: E731
  argv = main.resolve_presets(["cgan_tf", "--flagfile=configs/fmnist.cfg", "--batch_size=8", "--preset", "smoke",
                               "--train_steps=3", "--preset=nonesuch", "--flagfile=mine.cfg"])
  assert argv == ["cgan_tf", f"--flagfile={packaged('fmnist')}", "--batch_size=8", "--preset=smoke",
                  f"--flagfile={packaged('smoke')}", "--train_steps=3", "--preset=nonesuch",
                  "--flagfile=mine.cfg"]
  # Flags after the preset override it, as after a --flagfile.
  config = parse_preset("configs/smoke.cfg", f"--run_dir={tmp_path / 'run'}", "--train_steps=3")
  with flagsaver.flagsaver():
    FLAGS.unparse_flags()
    FLAGS(main.resolve_presets(["cgan_tf", "--preset=smoke", f"--run_dir={tmp_path / 'run'}", "--train_steps=3"]))
    try:
      assert main.config_from_flags() == config and FLAGS.preset == "smoke"
    finally:
      FLAGS.unparse_flags()


def test_a_checkouts_own_configs_directory_wins(tmp_path, monkeypatch):
  os.makedirs(tmp_path / "configs")
  (tmp_path / "configs" / "smoke.cfg").write_text("--batch_size=8\n")
  monkeypatch.chdir(tmp_path)
  argv = ["cgan_tf", "--flagfile=configs/smoke.cfg"]
  assert main.resolve_presets(argv) == argv


@pytest.mark.slow
def test_command_line_finds_the_presets_from_another_directory(tmp_path):
  """The installed console script's situation: `--flagfile=configs/...` with no configs/ in the cwd."""
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]))
  for preset in ("--flagfile=configs/fmnist.cfg", "--preset=fmnist"):
    result = subprocess.run([sys.executable, "-m", "cgan_tf.main", preset, "--only_check_args"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
  result = subprocess.run([sys.executable, "-m", "cgan_tf.main", "--preset=fmnst", "--only_check_args"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and "--preset=fmnst: value should be one of <circle|fmnist|" in result.stderr
