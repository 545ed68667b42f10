"""cgan_tf/checkpoints.py: a rerun resumes from the newest checkpoint and ends where an uninterrupted run
ends; a damaged checkpoint is skipped naming it, and none readable stops the run; non-finite weights are
never saved; a run continues under another precision, except float64 weights in float32."""

import glob
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import callbacks as callbacks_lib
from cgan_tf import checkpoints
from cgan_tf import loss_scale
from cgan_tf import train
from cgan_tf.checkpoints import CheckpointError, NonFiniteError
from cgan_tf.config import ConfigError
from cgan_tf.run_dir import RunDir
from tests.helpers.runs import assert_same_checkpoint, ckpt, overwrite, run_config


# --- Resume -------------------------------------------------------------------------------------------------

def all_weights(model):
  variables = (model.generator.variables + model.discriminator.variables + model.g_optimizer.variables
               + model.d_optimizer.variables)
  return [v.numpy() for v in variables]


@pytest.mark.slow
def test_rerun_resumes_from_the_saved_step(smoke_config):
  train.train(smoke_config(train_steps=4))
  model = train.train(smoke_config(train_steps=6))  # same run dir, longer target
  assert int(model.step_counter.numpy()) == 6
  indexes = sorted(os.path.basename(p) for p in glob.glob(os.path.join(smoke_config().run_dir, "checkpoints", "*.index")))
  assert indexes == ["ckpt-2.index", "ckpt-4.index", "ckpt-6.index"]
  again = train.train(smoke_config(train_steps=6))  # nothing left to do
  assert int(again.step_counter.numpy()) == 6


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(smoke_config, tmp_path):
  straight = train.train(smoke_config(run_dir=str(tmp_path / "straight"), train_steps=6, deterministic=True))
  train.train(smoke_config(run_dir=str(tmp_path / "split"), train_steps=2, deterministic=True))
  resumed = train.train(smoke_config(run_dir=str(tmp_path / "split"), train_steps=6, deterministic=True))
  for a, b in zip(all_weights(straight), all_weights(resumed)):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


# --- A checkpoint interrupted mid-write, truncated or corrupt is skipped, naming it -------------------------

def truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def flip_bytes(path):
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    chunk = f.read(64)
    f.seek(os.path.getsize(path) // 2)
    f.write(bytes(b ^ 0xFF for b in chunk))


def interrupted_before_the_index(run_dir):
  """A save killed after the data file and before the index (and the state file): TF's own layout."""
  os.remove(ckpt(run_dir, 4) + ".index")
  os.makedirs(ckpt(run_dir, 6) + "_temp")
  overwrite(os.path.join(ckpt(run_dir, 6) + "_temp", "part-00000-of-00001.data-00000-of-00001"))


def interrupted_before_the_state_file(run_dir):
  """A save killed after ckpt-4's files were complete and before the state file listed it."""
  state = os.path.join(run_dir, "checkpoints", "checkpoint")
  overwrite(state, b'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')


DAMAGE = {
    # name: (how, the step the rerun resumes from, what the warning names)
    "truncated data file": (lambda d: truncate(ckpt(d, 4) + ".data-00000-of-00001"), 2, "checkpoints/ckpt-4"),
    "flipped bytes in the data file": (lambda d: flip_bytes(ckpt(d, 4) + ".data-00000-of-00001"), 2, "checkpoints/ckpt-4"),
    "garbage index file": (lambda d: overwrite(ckpt(d, 4) + ".index"), 2, "checkpoints/ckpt-4"),
    "killed before the index was written": (interrupted_before_the_index, 2, "checkpoints/ckpt-4"),
    "killed before the state file was updated": (interrupted_before_the_state_file, 4, None),
    "empty state file": (lambda d: overwrite(os.path.join(d, "checkpoints", "checkpoint"), b""), 4,
                         "checkpoints/checkpoint"),
    "garbage state file": (lambda d: overwrite(os.path.join(d, "checkpoints", "checkpoint")), 4,
                           "checkpoints/checkpoint"),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_checkpoint_is_skipped_and_training_continues_exactly(runs, damage, tmp_path, caplog):
  how, resume_step, named = DAMAGE[damage]
  run_dir = str(tmp_path / "run")
  shutil.copytree(runs["four"], run_dir)
  how(run_dir)
  # absl's own logger: after absl flags are reset (tests/cgan_tf/test_config.py) it filters below WARNING.
  caplog.set_level("INFO", logger="absl")
  model = train.train(run_config(run_dir, runs["idx_dir"], train_steps=6))
  assert int(model.step_counter.numpy()) == 6
  assert f"Resumed from {ckpt(run_dir, resume_step)} at step {resume_step}" in caplog.text
  warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
  if named:
    assert os.path.join(run_dir, named) in warnings
  else:
    assert "cannot be restored" not in warnings
  # Nothing was lost: the run ends exactly where an uninterrupted one does, and its state file is sound.
  assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 6)


@pytest.mark.slow
def test_no_readable_checkpoint_stops_naming_each_and_deletes_nothing(runs, tmp_path):
  run_dir = str(tmp_path / "run")
  shutil.copytree(runs["four"], run_dir)
  for step in (2, 4):
    truncate(ckpt(run_dir, step) + ".data-00000-of-00001")
  before = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
  with pytest.raises(CheckpointError, match=r"no checkpoint in .* can be restored: .*ckpt-4: .*ckpt-2: "):
    train.train(run_config(run_dir, runs["idx_dir"], train_steps=6))
  assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == before


# --- Non-finite weights are never saved ---------------------------------------------------------------------

def test_checkpointer_refuses_to_save_non_finite_weights(smoke_config, tmp_path):
  config = train.resolve_training_config(smoke_config())[0]
  model = train.build_gan(config, "float32", "off")
  directory = str(tmp_path / "checkpoints")
  manager = checkpoints.manager(checkpoints.training_checkpoint(model), directory, 3)
  checkpointer = callbacks_lib.Checkpointer(0, 1, manager, 1)
  checkpointer.set_model(model)
  checkpointer.on_step_end(1, {})  # Finite: saved.
  kernel = model.generator.trainable_variables[0]
  kernel.assign(np.full(kernel.shape, np.inf, np.float32))
  with pytest.raises(NonFiniteError, match=re.escape(kernel.path) + r".*the checkpoint of step 2 was not "
                                           r"written\. Last good checkpoint: .*ckpt-1"):
    checkpointer.on_step_end(2, {})
  assert not glob.glob(os.path.join(directory, "ckpt-2*"))
  assert tf.train.latest_checkpoint(directory).endswith("ckpt-1")


# --- Changing precision on resume ---------------------------------------------------------------------------

TINY = dict(g_filters=8, d_filters=8, latent_dim=8, embedding_dim=4, batch_size=8, d_conditioning="projection",
            gp_weight=1.0)


@pytest.mark.parametrize("first,second", [("float32", "mixed_float16"), ("mixed_float16", "float32"),
                                          ("float32", "mixed_bfloat16"), ("mixed_bfloat16", "float32")])
def test_a_run_continues_under_another_precision(smoke_config, policy, absl_records, first, second):
  config = smoke_config(train_steps=2, checkpoint_every=2, precision=first, **TINY)
  model = train.train(config)
  saved_moments = [v.numpy() for v in loss_scale.inner(model.g_optimizer).variables[2:]]
  model = train.train(config.replace(train_steps=4, precision=second))
  assert int(model.step_counter.numpy()) == 4
  # The optimizers' state came along: iterations continue from 2, the moments from the checkpoint's.
  assert int(model.g_optimizer.iterations.numpy()) == 4 and int(model.d_optimizer.iterations.numpy()) == 4
  assert all(np.all(np.isfinite(v.numpy())) for v in model.generator.trainable_variables)
  assert loss_scale.is_scaled(model.g_optimizer) == (second == "mixed_float16")
  changed = "mixed_float16" in (first, second)
  notes = [m for m in absl_records if m.startswith("Precision change on resume")]
  assert bool(notes) == changed, absl_records
  if second == "mixed_float16":
    assert "fresh loss scale" in notes[0]
  assert len(saved_moments) > 2


def test_float64_run_is_not_continued_in_float32(smoke_config, policy):
  config = smoke_config(train_steps=1, checkpoint_every=1, precision="float64", **TINY)
  train.train(config)
  directory = RunDir(config.run_dir).checkpoints
  before = {name: os.path.getmtime(os.path.join(directory, name)) for name in os.listdir(directory)}
  # The run's config.json says float64: refused before anything is built.
  with pytest.raises(ConfigError, match=r"^--precision: .* holds a run with --precision=float64, this run has "
                                        r"--precision=float32; float64 weights continue only in float64"):
    train.train(config.replace(train_steps=2, precision="float32"))
  # Without it, the checkpoint's own weights say so, before anything is restored.
  os.remove(RunDir(config.run_dir).config)
  with pytest.raises(checkpoints.CheckpointError, match=r"--precision=float32: .* float64 weights"):
    train.train(config.replace(train_steps=2, precision="float32"))
  assert {name: os.path.getmtime(os.path.join(directory, name)) for name in os.listdir(directory)} == before
