"""Reliability of whole runs: kills, NaNs, failed writes, dead workers and bad input lose nothing already
written. RELIABILITY.md lists every case with the test that shows it; damaged checkpoints and weights that
are never saved non-finite are tested with the rest of checkpointing, in tests/cgan_tf/test_checkpoints.py."""

import glob
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import callbacks as callbacks_lib
from cgan_tf import data
from cgan_tf import export
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import train
from cgan_tf.checkpoints import CheckpointError, NonFiniteError
from cgan_tf.config import Config, ConfigError
from cgan_tf import validation
from cgan_tf.run_dir import RunDir
from tests.helpers.data import REPO_ROOT, make_idx_dataset
from tests.helpers.runs import assert_same_checkpoint, checkpoint_arrays, ckpt, overwrite, run_config
from tests.helpers.workers import finish, start_workers

PACKAGE_DIR = os.path.join(REPO_ROOT, "cgan_tf")


# --- Fault 1: killed with SIGKILL, re-run with the same command, ends where an uninterrupted run ends --------

def cli_command(run_dir: str, idx_dir: str, train_steps: int) -> list:
  return [sys.executable, "-m", "cgan_tf.main", f"--run_dir={run_dir}", "--dataset=synthetic",
          "--data_source=idx", f"--data_dir={idx_dir}", "--batch_size=16", f"--train_steps={train_steps}",
          "--checkpoint_every=1", "--keep_checkpoints=2", "--sample_every=100", "--log_every=100",
          "--samples_per_class=1", "--verbose=0", "--seed=3", "--deterministic", "--eval_every=0",
          "--nokeep_best", "--precision=float32"]


@pytest.mark.slow
def test_sigkilled_run_rerun_three_times_equals_an_uninterrupted_run(tmp_path):
  idx_dir = make_idx_dataset(str(tmp_path / "idx"))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  straight = str(tmp_path / "straight")
  done = subprocess.run(cli_command(straight, idx_dir, 12), cwd=REPO_ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]

  killed = str(tmp_path / "killed")
  jitter = random.Random(8)  # Seeded: the kill lands somewhere in the next step, or in its save.
  resumed_at = []
  for kill_after in (2, 5, 8):
    log_path = tmp_path / f"killed_after_{kill_after}.log"
    with open(log_path, "w") as log:  # A file, not a pipe: nobody reads a pipe while we poll.
      proc = subprocess.Popen(cli_command(killed, idx_dir, 12), cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=log)
      try:
        while not os.path.exists(ckpt(killed, kill_after) + ".index") and proc.poll() is None:
          time.sleep(0.005)
        time.sleep(jitter.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
      finally:
        if proc.poll() is None:
          proc.kill()
    err = log_path.read_text()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill: {err[-3000:]}"
    resumed_at.extend(int(step) for step in re.findall(r"Resumed from \S+ at step (\d+)", err))
  final = subprocess.run(cli_command(killed, idx_dir, 12), cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
  assert final.returncode == 0, final.stderr[-3000:]
  resumed_at.extend(int(step) for step in re.findall(r"Resumed from \S+ at step (\d+)", final.stderr))
  # The second, third and last process each resumed, from at least the step its predecessor had saved.
  assert len(resumed_at) == 3 and resumed_at[0] >= 2 and resumed_at[1] >= 5 and resumed_at[2] >= 8, resumed_at
  assert_same_checkpoint(ckpt(killed, 12), ckpt(straight, 12))


# --- Fault 2: NaN or Inf stops training naming the step and the last good checkpoint; never saved --------

@pytest.mark.slow
def test_diverging_run_stops_at_the_nan_and_a_rerun_with_lower_rates_recovers(runs, tmp_path):
  run_dir = str(tmp_path / "run")
  shutil.copytree(runs["four"], run_dir)
  # Resumed at step 4 with a learning rate of 1e30 (the flag must win over the checkpoint's 2e-4): step 5's
  # weights are huge and a loss is NaN by step 6 (at 5 already when G trains through the updated D), so
  # ckpt-6 must not be written.
  with pytest.raises(NonFiniteError, match=r"at step [56]; .*Last good checkpoint: " + re.escape(ckpt(run_dir, 4))):
    train.train(run_config(run_dir, runs["idx_dir"], train_steps=8, g_learning_rate=1e30, d_learning_rate=1e30))
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 4)
  assert not glob.glob(ckpt(run_dir, 6) + "*")
  assert all(np.all(np.isfinite(a)) for a in checkpoint_arrays(ckpt(run_dir, 4)).values()
             if np.issubdtype(a.dtype, np.floating))
  # As the message says: the same command with sane rates resumes there, and nothing was lost.
  model = train.train(run_config(run_dir, runs["idx_dir"], train_steps=6))
  assert float(model.g_optimizer.learning_rate.numpy()) == np.float32(2e-4)
  assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))


def test_guard_names_the_non_finite_loss_and_the_step(tmp_path):
  guard = callbacks_lib.NonFiniteGuard(10, 1, str(tmp_path / "none"))
  guard.on_train_batch_end(0, {"d_loss": 0.7, "g_loss": 0.6})  # Finite: no error.
  with pytest.raises(NonFiniteError, match=r"g_loss=inf at step 12; .*none yet in"):
    guard.on_train_batch_end(1, {"d_loss": 0.7, "g_loss": float("inf")})
  grouped = callbacks_lib.NonFiniteGuard(0, 4, str(tmp_path / "none"))
  with pytest.raises(NonFiniteError, match="d_loss=nan at one of steps 1-4"):
    grouped.on_train_batch_end(0, {"d_loss": float("nan")})


@pytest.mark.slow
def test_export_refuses_a_non_finite_generator_and_writes_nothing(runs, tmp_path):
  config = Config(mode="export", run_dir=runs["four"], export_dir=str(tmp_path / "models"), model_name="m")
  generator, _ = trained_run_lib.load_generator(trained_run_lib.load_run_config(config))
  kernel = generator.trainable_variables[0]
  kernel.assign(np.full(kernel.shape, np.nan, np.float32))
  with pytest.raises(NonFiniteError, match=r"NaN or Inf .*nothing was exported"):
    export.export(config, generator=generator)
  assert os.listdir(tmp_path / "models" / "m") == []


# --- Fault 3: unwritable or full disk ---------------------------------------------------------------------

def test_unwritable_run_dir_fails_before_training(smoke_config, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  with pytest.raises(ConfigError, match=r"^--run_dir: .*a_file/run is not writable"):
    train.train(smoke_config(run_dir=str(blocker / "run")))


class FileSizeLimit(keras.callbacks.Callback):
  """After `after_steps` steps, no file may grow past `limit` bytes: writes fail as on a full disk.

  RLIMIT_FSIZE binds root too (unlike chmod). SIGXFSZ is ignored so the write fails with EFBIG instead of
  the signal killing the process.
  """

  def __init__(self, after_steps, limit=4096):
    super().__init__()
    self.after_steps, self.limit, self.steps = after_steps, limit, 0

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1
    if self.steps == self.after_steps:
      signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
      resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@pytest.mark.slow
def test_failed_checkpoint_write_stops_cleanly_and_keeps_earlier_checkpoints(runs, tmp_path):
  run_dir = str(tmp_path / "full")
  config = run_config(run_dir, runs["idx_dir"], train_steps=6)
  limit, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.getsignal(signal.SIGXFSZ)
  try:
    with pytest.raises(CheckpointError, match=r"writing the checkpoint of step 4 .* failed \(.*File too "
                                              r"large.*Earlier checkpoints are intact; last good checkpoint: "
                                              + re.escape(ckpt(run_dir, 2))):
      train.train(config, extra_callbacks=[FileSizeLimit(after_steps=2)])
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    signal.signal(signal.SIGXFSZ, handler)
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 2)
  assert not os.path.exists(ckpt(run_dir, 4) + ".index")
  # ckpt-2 is whole: the rerun, once there is space, resumes from it and ends as an uninterrupted run.
  train.train(config)
  assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))


def test_failed_sample_grid_write_stops_naming_the_file_and_keeps_the_checkpoints(runs, tmp_path):
  run_dir = str(tmp_path / "grids")
  train.train(run_config(run_dir, runs["idx_dir"], train_steps=2))
  # The samples directory becomes a file: every write below it fails, also for root (unlike permissions).
  shutil.rmtree(os.path.join(run_dir, "samples"))
  overwrite(os.path.join(run_dir, "samples"), b"not a directory")
  with pytest.raises(CheckpointError, match=r"writing the sample grid .*samples/grid_00000002.png failed.*"
                                            r"Checkpoints are intact"):
    train.train(run_config(run_dir, runs["idx_dir"], train_steps=4, sample_every=2))
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 2)


# --- Fault 4: a dead worker fails the job clearly; a restart resumes from the chief's checkpoint ----------

# A short collective timeout, so a stopped worker is given up on soon; no grids or log lines, which the
# test does not look at.
WORKER_OPTIONS = dict(collective_timeout=20, extra_flags=["--sample_every=1000", "--log_every=1000"])


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_dead_or_hung_worker_fails_the_job_clearly_and_a_restart_resumes(tmp_path, idx_dir, fault):
  """killed: SIGKILL, the peer's connection resets. hung: SIGSTOP, only the bounded timeouts end the wait."""
  run_dir = str(tmp_path / "mw")
  chief, worker = start_workers(run_dir, idx_dir, 10000, **WORKER_OPTIONS)
  try:
    while not os.path.exists(ckpt(run_dir, 2) + ".index") and chief.poll() is None:
      time.sleep(0.05)
    assert chief.poll() is None, open(chief.log_path).read()[-3000:]
    worker.send_signal(signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
    # 240 s only guards the test against a hang; it asserts no timing.
    [(code, err)] = finish([chief], timeout=240)
  finally:
    for proc in (chief, worker):  # SIGKILL ends a stopped process too.
      if proc.poll() is None:
        proc.kill()
      proc.wait()
  assert code == 3, err[-3000:]
  assert "error: a worker of the multi-worker job died or stopped answering" in err
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  assert newest is not None and f"last good checkpoint: {newest}" in err
  if fault == "hung":
    return  # The restart is the same as after a kill.
  step = int(newest.rsplit("-", 1)[1])
  for code, err in finish(start_workers(run_dir, idx_dir, step + 2, **WORKER_OPTIONS)):
    assert code == 0, err[-3000:]
    assert f"at step {step}" in err  # both workers restored the chief's checkpoint
  assert os.path.exists(ckpt(run_dir, step + 2) + ".index")


# --- Bad input not covered elsewhere (RELIABILITY.md cites the existing tests for the rest) ----------------

def test_unknown_dataset_name_is_refused_naming_the_flag():
  with pytest.raises(ConfigError, match="^--dataset: 'no_such_set' is not a TFDS data set"):
    data.load(Config(run_dir="/tmp/unused", dataset="no_such_set", data_source="tfds"), "train")


def test_resuming_with_another_network_or_image_size_is_refused():
  saved = Config(run_dir="/r", network="cdcgan", image_shape=(28, 28, 1), num_classes=10)
  with pytest.raises(ConfigError, match=r"holds a run with network='cdcgan', but this run has "
                                        r"network='resnet'; its checkpoints cannot be resumed"):
    validation.check_resumable(saved, saved.replace(network="resnet"))
  with pytest.raises(ConfigError, match=r"image_shape=\(28, 28, 1\), but this run has image_shape=\(64, 64, 1\)"):
    validation.check_resumable(saved, saved.replace(image_shape=(64, 64, 1)))


def test_corrupt_config_json_in_run_dir_is_named(tmp_path):
  (tmp_path / "config.json").write_text('{"batch_size": 12')
  with pytest.raises(ConfigError, match=r"^--run_dir: .*config.json is not a valid cgan_tf configuration"):
    RunDir(str(tmp_path)).saved_config()
  (tmp_path / "config.json").write_text('{"no_such_field": 1}')
  with pytest.raises(ConfigError, match="unknown configuration keys: no_such_field"):
    RunDir(str(tmp_path)).saved_config()


@pytest.mark.slow
def test_serving_refuses_a_wrong_dtype_naming_the_input(runs, tmp_path):
  config = Config(mode="export", run_dir=runs["four"], export_dir=str(tmp_path / "models"), model_name="m",
                  max_batch=8)
  served = tf.saved_model.load(export.export(config))
  # TensorFlow checks dtypes before the graph runs, so the input is named by its position (label is #0,
  # seed #1), with the dtype expected; TF Serving words it "Expects arg[0] to be int32 but float is provided".
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"input #0.*expected to be a int32 tensor but is "
                                                           r"a float tensor"):
    served.signatures[export.SERVING_DEFAULT](label=tf.constant([1.0, 2.0]))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"input #1.*expected to be a int64 tensor but is "
                                                           r"a float tensor"):
    served.signatures[export.SERVING_SEEDED](label=tf.constant([1], tf.int32), seed=tf.constant([1.5, 2.5]))


# --- Security ---------------------------------------------------------------------------------------------

def package_sources() -> dict:
  paths = glob.glob(os.path.join(PACKAGE_DIR, "**", "*.py"), recursive=True)
  assert len(paths) > 10
  return {os.path.relpath(p, REPO_ROOT): open(p, encoding="utf-8").read() for p in paths}


def test_no_pickle_and_safe_loading_only():
  for path, source in package_sources().items():
    # np.load may appear only with allow_pickle=False; no other mention of pickle at all.
    assert "pickle" not in source.replace("allow_pickle=False", ""), path
    for call in re.findall(r"np\.load\([^)]*\)", source):
      assert "allow_pickle=False" in call, f"{path}: {call}"
    for call in re.findall(r"load_model\([^)]*\)", source):
      assert "safe_mode=True" in call, f"{path}: {call}"
    assert "safe_mode=False" not in source and "unsafe_deserialization" not in source, path


def test_nothing_is_fetched_from_the_network_except_by_tfds():
  network_modules = re.compile(r"^\s*(import|from)\s+(urllib|requests|http|socket|ftplib|httpx|aiohttp)\b",
                               re.MULTILINE)
  for path, source in package_sources().items():
    if path == os.path.join("cgan_tf", "demo", "page.py"):
      # The demo serves a page on 127.0.0.1: its one socket only binds there to find a free port.
      assert "connect(" not in source and "probe.bind((HOST, 0))" in source and 'HOST = "127.0.0.1"' in source
      source = source.replace("import socket\n", "")
    assert not network_modules.search(source), path
    assert "get_file(" not in source, path  # keras.utils.get_file downloads
    if "download" in source.replace("downloading", "").replace("a TFDS download", ""):
      # The only download: TFDS preparing a data set the user named, in data.tfds.load_tfds.
      assert path == os.path.join("cgan_tf", "data", "tfds.py"), path
      assert source.count("download_and_prepare(") == 1
