"""cgan_tf/trained_run.py: a run's saved configuration, its newest and best generators, a checkpoint's step."""

import os

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from cgan_tf.run_dir import RunDir
from tests.helpers.runs import QUIET

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
  from tests.helpers.data import make_idx_dataset
  base = tmp_path_factory.mktemp("run_dir")
  config = Config(run_dir=str(base / "run"), dataset="synthetic", data_source="idx",
                  data_dir=make_idx_dataset(str(base / "idx")), batch_size=32, train_steps=4,
                  checkpoint_every=2, sample_every=4, log_every=2, samples_per_class=2, verbose=0, seed=3,
                  ema_decay=0.9, **QUIET)
  train.train(config)
  return RunDir(config.run_dir).saved_config()


def test_the_run_config_carries_the_invocations_fields(trained_run):
  invocation = Config(mode="sample", run_dir=trained_run.run_dir, label=4, num_images=3, output_dir="/x",
                      model_name="other", eval_seed=9)
  sample = trained_run_lib.load_run_config(invocation, trained_run_lib.SAMPLE_FIELDS)
  assert (sample.mode, sample.label, sample.num_images, sample.output_dir) == ("sample", 4, 3, "/x")
  assert sample.model_name == trained_run.model_name and sample.eval_seed == trained_run.eval_seed
  assert sample.latent_dim == trained_run.latent_dim and sample.ema_decay == 0.9
  evaluation = trained_run_lib.load_run_config(invocation, trained_run_lib.EVAL_FIELDS)
  assert evaluation.eval_seed == 9 and evaluation.label == trained_run.label


def test_a_directory_without_a_run_is_refused_or_none(tmp_path):
  invocation = Config(mode="sample", run_dir=str(tmp_path))
  with pytest.raises(ConfigError, match="--run_dir: .* holds no trained run"):
    trained_run_lib.load_run_config(invocation)
  assert trained_run_lib.load_run_config(invocation, required=False) is None


def test_the_newest_generator_is_the_moving_average_of_the_last_checkpoint(trained_run):
  generator, path = trained_run_lib.load_generator(trained_run, "newest")
  assert path.endswith("ckpt-4")
  assert trained_run_lib.checkpoint_step(path) == 4
  assert trained_run_lib.weights_name(trained_run) == "ema_generator (decay 0.9)"
  assert trained_run_lib.weights_name(trained_run, "best") == (
      "ema_generator (decay 0.9), the lowest Fréchet distance measured (--keep_best)")
  reader = tf.train.load_checkpoint(path)
  kernel = next(v for v in generator.weights if "kernel" in v.path)
  saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("ema_generator/")]
  assert any(np.array_equal(reader.get_tensor(name), kernel.numpy()) for name in saved
             if reader.get_tensor(name).shape == tuple(kernel.shape))


def test_best_needs_keep_best(trained_run):
  with pytest.raises(ConfigError, match="the best generator: .*best holds no checkpoint; train with --keep_best"):
    trained_run_lib.load_generator(trained_run, "best")
  with pytest.raises(ValueError, match="which"):
    trained_run_lib.load_generator(trained_run, "oldest")


def test_auto_is_the_best_generator_only_when_the_run_kept_one(trained_run, tmp_path):
  assert trained_run_lib.resolve_generator(trained_run, "auto") == "newest"  # This run kept no best.
  assert trained_run_lib.resolve_generator(trained_run, "best") == "best"
  kept = trained_run.replace(run_dir=str(tmp_path))
  generator, _ = trained_run_lib.load_generator(trained_run, "newest")
  checkpoints.manager(tf.train.Checkpoint(generator=generator), RunDir(kept.run_dir).best,
                      keep=1).save(checkpoint_number=3)
  assert trained_run_lib.resolve_generator(kept, "auto") == "best"
  assert trained_run_lib.resolve_generator(kept, "newest") == "newest"


def test_the_best_generator_is_read_from_best(trained_run, tmp_path):
  generator, _ = trained_run_lib.load_generator(trained_run, "newest")
  best = tmp_path / "best"
  checkpoints.manager(tf.train.Checkpoint(generator=generator), str(best), keep=1).save(checkpoint_number=7)
  restored, path = trained_run_lib.load_generator(trained_run, "best", directory=str(best))
  assert trained_run_lib.checkpoint_step(path) == 7  # No step stored: the name's.
  for a, b in zip(generator.weights, restored.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  assert RunDir(trained_run.run_dir).best == os.path.join(trained_run.run_dir, "best")
