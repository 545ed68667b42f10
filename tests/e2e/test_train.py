"""End-to-end: a tiny training run writes its files, refuses an incompatible run directory, and samples a
chosen class, also from the command line. Resuming is tested in tests/cgan_tf/test_checkpoints.py, what the train
step does in tests/cgan_tf/test_gan.py."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from cgan_tf import generate
from cgan_tf import samples
from cgan_tf import train
from cgan_tf.config import ConfigError
from cgan_tf.run_dir import RunDir
from tests.helpers.data import DEBIAN_FASHION_MNIST, REPO_ROOT

pytestmark = pytest.mark.slow


def event_tags(log_dir):
  tags = set()
  for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      tags.update(value.tag for value in event.summary.value)
  return tags


def test_smoke_training_writes_checkpoint_grid_config_and_logs(smoke_config):
  config = smoke_config(train_steps=4)
  model = train.train(config)
  run_dir = config.run_dir
  assert int(model.step_counter.numpy()) == 4
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")).endswith("ckpt-4")
  grid = Image.open(os.path.join(run_dir, "samples", "grid_00000004.png"))
  assert grid.size == (3 * 30 + 2, 10 * 30 + 2)  # 3 samples per class across, 10 classes down
  assert os.path.exists(os.path.join(run_dir, "samples", "grid_00000000.png"))
  saved = json.load(open(os.path.join(run_dir, "config.json")))
  assert saved["image_shape"] == [28, 28, 1] and saved["num_classes"] == 10 and saved["batch_size"] == 32
  tags = event_tags(os.path.join(run_dir, "logs"))
  assert {"train/d_loss", "train/g_loss", "train/d_real_accuracy", "train/d_fake_accuracy",
          "samples/grid"} <= tags


def test_incompatible_run_dir_is_refused_before_training(smoke_config):
  train.train(smoke_config(train_steps=2))
  with pytest.raises(ConfigError, match="latent_dim"):
    train.train(smoke_config(train_steps=4, latent_dim=32))


def test_sample_mode_writes_images_of_the_requested_class(smoke_config, tmp_path):
  config = smoke_config(train_steps=2)
  model = train.train(config)
  out = str(tmp_path / "class3")
  paths = generate.sample(config.replace(mode="sample", label=3, num_images=5, output_dir=out))
  assert len(paths) == 6 and paths[-1].endswith("class3_grid.png")
  written = np.stack([np.asarray(Image.open(p)) for p in paths[:5]])[..., None]
  expected = samples.generate_class(model.sampling_generator, 3, 5, config.latent_dim, config.seed)
  np.testing.assert_array_equal(written, expected)
  with pytest.raises(ConfigError, match="--label: must be in \\[0, 10\\)"):
    generate.sample(config.replace(mode="sample", label=10, output_dir=out))


def test_sample_mode_without_a_run(tmp_path):
  from cgan_tf.config import Config
  with pytest.raises(ConfigError, match="no trained run"):
    generate.sample(Config(mode="sample", run_dir=str(tmp_path), output_dir=str(tmp_path / "o")))


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_command_line_smoke_preset_trains_resumes_and_samples(tmp_path):
  run_dir = str(tmp_path / "run")
  base = [sys.executable, "-m", "cgan_tf.main", "--flagfile=configs/smoke.cfg", f"--run_dir={run_dir}"]
  kwargs = dict(cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
  first = subprocess.run(base, **kwargs)
  assert first.returncode == 0, first.stderr[-2000:]
  assert os.path.exists(os.path.join(run_dir, "checkpoints", "ckpt-6.index"))
  second = subprocess.run(base + ["--train_steps=9"], **kwargs)
  assert second.returncode == 0, second.stderr[-2000:]
  assert "Resumed from" in second.stderr and "at step 6" in second.stderr
  assert os.path.exists(os.path.join(run_dir, "checkpoints", "ckpt-9.index"))
  out = str(tmp_path / "bags")
  third = subprocess.run(base + ["--mode=sample", "--label=8", "--num_images=4", f"--output_dir={out}"], **kwargs)
  assert third.returncode == 0, third.stderr[-2000:]
  assert sorted(os.listdir(out)) == ["class8_0000.png", "class8_0001.png", "class8_0002.png", "class8_0003.png",
                                     "class8_grid.png"]


def test_an_epoch_length_trains_whole_calls_of_steps_per_execution_and_names_the_steps_it_trained(smoke_config):
  # 256 synthetic examples at batch 32: 8 steps an epoch, 16 in two, not a whole number of calls of 3 steps.
  config = smoke_config(train_steps=0, epochs=2, steps_per_execution=3, checkpoint_every=3, sample_every=3,
                        log_every=3, keep_checkpoints=10)
  assert train.total_steps(config, 256) == 18  # Rounded up to the next whole call, and so trained:
  model = train.train(config)
  assert int(model.step_counter.numpy()) == 18
  steps = sorted(int(path.split("-")[-1].split(".")[0])
                 for path in glob.glob(os.path.join(config.run_dir, "checkpoints", "ckpt-*.index")))
  assert steps == [3, 6, 9, 12, 15, 18]  # Every checkpoint is of the step its name says.
  assert [step for step, _ in samples_on_disk(config.run_dir)] == [0, 3, 6, 9, 12, 15, 18]
  assert int(tf.train.load_checkpoint(os.path.join(config.run_dir, "checkpoints", "ckpt-9")).get_tensor(
      "step/.ATTRIBUTES/VARIABLE_VALUE")) == 9
  # The same length in images: 16 steps' worth of images, rounded up the same way.
  assert train.total_steps(config.replace(epochs=0, train_images=16 * 32), 256) == 18
  # A resume from a step the calls do not reach the end from is refused before it trains.
  resumed = smoke_config(train_steps=0, epochs=2, steps_per_execution=4, checkpoint_every=4, sample_every=4,
                         log_every=4)
  with pytest.raises(ConfigError, match=r"--steps_per_execution: .* resumes at step 18, .*"):
    train.train(resumed.replace(epochs=3, steps_per_execution=4))  # 24 - 18 = 6 steps: not whole calls of 4.


def samples_on_disk(run_dir):
  return RunDir(run_dir).grids()
