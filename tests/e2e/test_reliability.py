"""Reliability of whole runs: kills, NaNs, failed writes, dead workers and bad input lose nothing already
written. docs/reliability.md lists every case with the test that shows it; damaged checkpoints and weights that
are never saved non-finite are tested with the rest of checkpointing, in tests/cgan_tf/test_checkpoints.py."""

import contextlib
import glob
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import callbacks as callbacks_lib
from cgan_tf import data
from cgan_tf import export
from cgan_tf import main as main_lib
from cgan_tf import preemption
from cgan_tf import run_lock
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import train
from cgan_tf.checkpoints import CheckpointError, NonFiniteError
from cgan_tf.config import Config, ConfigError
from cgan_tf.evaluation import evaluator as evaluator_lib
from cgan_tf.evaluation import sources as sources_lib
from cgan_tf import resume
from cgan_tf.run_dir import RunDir
from tests.helpers.data import REPO_ROOT, make_idx_dataset
from tests.helpers.runs import SMALL_NETWORK_FLAGS, assert_same_checkpoint, checkpoint_arrays, ckpt, overwrite, run_config
from tests.helpers.workers import finish, start_workers

PACKAGE_DIR = os.path.join(REPO_ROOT, "cgan_tf")


# --- Fault 1: killed with SIGKILL, re-run with the same command, ends where an uninterrupted run ends --------

def cli_command(run_dir: str, idx_dir: str, train_steps: int) -> list:
  return [sys.executable, "-m", "cgan_tf.main", f"--run_dir={run_dir}", "--dataset=synthetic",
          "--data_source=idx", f"--data_dir={idx_dir}", "--batch_size=16", f"--train_steps={train_steps}",
          "--checkpoint_every=1", "--keep_checkpoints=2", "--sample_every=100", "--log_every=100",
          "--samples_per_class=1", "--verbose=0", "--seed=3", "--deterministic", "--eval_every=0",
          "--nokeep_best", "--precision=float32", *SMALL_NETWORK_FLAGS]


# Four steps after the last kill's checkpoint, each saving one, so the run is still going when the kill lands.
KILL_STEPS = 12


@pytest.mark.slow
def test_sigkilled_run_rerun_three_times_equals_an_uninterrupted_run(tmp_path):
  idx_dir = make_idx_dataset(str(tmp_path / "idx"))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  straight = str(tmp_path / "straight")
  done = subprocess.run(cli_command(straight, idx_dir, KILL_STEPS), cwd=REPO_ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]

  killed = str(tmp_path / "killed")
  jitter = random.Random(8)  # Seeded: the kill lands somewhere in the next step, or in its save.
  resumed_at = []
  for kill_after in (2, 5, 8):
    log_path = tmp_path / f"killed_after_{kill_after}.log"
    with open(log_path, "w") as log:  # A file, not a pipe: nobody reads a pipe while we poll.
      proc = subprocess.Popen(cli_command(killed, idx_dir, KILL_STEPS), cwd=REPO_ROOT, env=env,
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
    # The killed trainer's lock file stays, naming it; the kernel released the lock itself, so the next
    # run starts without anyone deleting it.
    with open(RunDir(killed).lock) as f:
      assert json.load(f)["pid"] == proc.pid
    resumed_at.extend(int(step) for step in re.findall(r"Resumed from \S+ at step (\d+)", err))
  final = subprocess.run(cli_command(killed, idx_dir, KILL_STEPS), cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
  assert final.returncode == 0, final.stderr[-3000:]
  resumed_at.extend(int(step) for step in re.findall(r"Resumed from \S+ at step (\d+)", final.stderr))
  # The second, third and last process each resumed, from at least the step its predecessor had saved.
  assert len(resumed_at) == 3 and resumed_at[0] >= 2 and resumed_at[1] >= 5 and resumed_at[2] >= 8, resumed_at
  assert_same_checkpoint(ckpt(killed, KILL_STEPS), ckpt(straight, KILL_STEPS))


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


# --- Fault 5: SIGTERM and SIGINT stop after the step in flight, saved; one writer per run directory ---------

STOP_STEPS = 200
# The networks as small as the step allows: these runs are about signals and files, not about what trains.
TINY_FLAGS = ["--g_filters=8", "--d_filters=8", "--latent_dim=8", "--embedding_dim=4"]


def stop_command(run_dir: str, idx_dir: str, checkpoint_every: int = 1000) -> list:
  """A tiny --deterministic run that prints a progress line after every step; with the default
  --checkpoint_every it saves no checkpoint before its end but the ones a stop makes."""
  return [sys.executable, "-m", "cgan_tf.main", f"--run_dir={run_dir}", "--dataset=synthetic",
          "--data_source=idx", f"--data_dir={idx_dir}", "--batch_size=16", f"--train_steps={STOP_STEPS}",
          f"--checkpoint_every={checkpoint_every}", "--keep_checkpoints=1000", "--sample_every=1000",
          "--log_every=1000", "--samples_per_class=1", "--verbose=1", "--progress_seconds=0", "--seed=3",
          "--deterministic", "--eval_every=0", "--nokeep_best", "--precision=float32", *TINY_FLAGS]


CLI_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def start_and_watch(command: list, tmp_path, name: str):
  """Starts `command` with its stdout (the progress lines) on a pipe and its stderr in a file."""
  log_path = tmp_path / f"{name}.log"
  with open(log_path, "w") as log:
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=CLI_ENV, stdout=subprocess.PIPE, stderr=log, text=True)
  proc.log_path = log_path
  return proc


def wait_for_step(proc, step: int) -> list:
  """Reads progress lines until one at `step` or later (or the end); returns the lines read."""
  lines = []
  for line in proc.stdout:
    lines.append(line)
    match = re.match(r"step (\d+)/", line)
    if match and int(match.group(1)) >= step:
      break
  return lines


def stop_with(proc, signals, delay: float):
  """Sends `signals` one after the other, `delay` seconds from now; returns (exit code, stdout, stderr)."""
  try:
    time.sleep(delay)
    for signum in signals:
      proc.send_signal(signum)
    out, _ = proc.communicate(timeout=240)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  return proc.returncode, out, proc.log_path.read_text()


def drain(proc) -> threading.Thread:
  """Reads the rest of `proc`'s stdout in a thread, so a full pipe never blocks it."""
  thread = threading.Thread(target=proc.stdout.read, daemon=True)
  thread.start()
  return thread


def checkpoint_steps(run_dir: str) -> list:
  return sorted(int(p.rsplit("-", 1)[1][:-len(".index")]) for p in glob.glob(ckpt(run_dir, "*") + ".index"))


@pytest.mark.slow
def test_sigterm_and_sigint_stops_resume_exactly_and_the_holder_refuses_a_second_trainer(tmp_path, request):
  idx_dir = make_idx_dataset(str(tmp_path / "idx"))
  straight = str(tmp_path / "straight")
  # The uninterrupted run trains beside the others (tracing is single-threaded, so they share the cores).
  reference = start_and_watch(stop_command(straight, idx_dir), tmp_path, "straight")
  # Ends it should the test fail first (kill does nothing once it has exited).
  request.addfinalizer(lambda: (reference.kill(), reference.wait()))
  drain(reference)

  run_dir = str(tmp_path / "stopped")
  command = stop_command(run_dir, idx_dir)
  jitter = random.Random(28)  # Seeded: which step the signal lands after, and where in that step.
  stops = []
  # Stopped twice between checkpoints, the second time by SIGINT and, at once, SIGTERM (which changes nothing).
  for signals in ([signal.SIGTERM], [signal.SIGINT, signal.SIGTERM]):
    proc = start_and_watch(command, tmp_path, f"stop{len(stops)}")
    seen = (stops[-1] if stops else 0) + jitter.randint(2, 8)
    out = "".join(wait_for_step(proc, seen))
    code, rest, err = stop_with(proc, signals, jitter.uniform(0.0, 0.05))
    out += rest
    name = signals[0].name
    assert code == main_lib.EXIT_STOPPED, err[-3000:]
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("Stopped")]
    match = re.fullmatch(rf"Stopped by {name} at step (\d+) of {STOP_STEPS}; saved (\S+)\. Run the same command "
                         rf"to resume from step (\d+)\.", line)
    assert match and match.group(1) == match.group(3), line
    step = int(match.group(1))
    assert seen <= step < STOP_STEPS and match.group(2) == ckpt(run_dir, step)
    assert f"step {step}/{STOP_STEPS}" in out  # The progress line of that step was written out.
    if len(signals) > 1:
      assert f"SIGTERM received while stopping on {name}" in err
    if stops:
      assert f"Resumed from {ckpt(run_dir, stops[-1])} at step {stops[-1]}" in err
    stops.append(step)
    assert checkpoint_steps(run_dir) == stops  # Only the stops wrote checkpoints, each of its own step.

  # The last run saves every step (how often is free to change on resume), and while it trains, a second
  # trainer is turned away at once and the read-only modes read its checkpoints.
  holder = start_and_watch(stop_command(run_dir, idx_dir, checkpoint_every=1), tmp_path, "holder")
  exported, loaded = [], []
  try:
    wait_for_step(holder, stops[-1] + 2)
    drain(holder)
    with pytest.raises(run_lock.RunDirBusyError, match=rf"is being trained by another process \(pid {holder.pid} "):
      train.train(run_config(run_dir, idx_dir, train_steps=STOP_STEPS))
    while holder.poll() is None and len(loaded) < 3:
      if not exported:
        exported.append(export.export(Config(mode="export", run_dir=run_dir, export_dir=str(tmp_path / "models"),
                                             model_name="m")))
      # What sample, eval and export read: the newest checkpoint that restores whole, checksums verified.
      run = trained_run_lib.load_run_config(Config(mode="sample", run_dir=run_dir))
      loaded.append(trained_run_lib.checkpoint_step(trained_run_lib.load_generator(run)[1]))
    holder.wait(timeout=300)
  finally:
    if holder.poll() is None:
      holder.kill()
      holder.wait()
  err = holder.log_path.read_text()
  assert holder.returncode == 0, err[-3000:]
  assert f"Resumed from {ckpt(run_dir, stops[-1])} at step {stops[-1]}" in err
  assert exported and loaded and all(stops[-1] <= step <= STOP_STEPS for step in loaded), (exported, loaded)
  served = tf.saved_model.load(exported[0])  # The export read a whole checkpoint, and serves it.
  assert stops[-1] <= export.read_metadata(served)["training_step"] <= STOP_STEPS
  images = served.signatures[export.SERVING_SEEDED](label=tf.constant([1], tf.int32),
                                                    seed=tf.constant([1, 2], tf.int64))["images"]
  assert images.shape[0] == 1
  # Stopped twice, contended and read from, the run ends bitwise equal to the uninterrupted one.
  assert reference.wait(timeout=600) == 0, reference.log_path.read_text()[-3000:]
  assert_same_checkpoint(ckpt(run_dir, STOP_STEPS), ckpt(straight, STOP_STEPS))


@pytest.mark.slow
def test_a_signal_to_one_worker_stops_every_worker_after_the_same_step(tmp_path, idx_dir):
  run_dir = str(tmp_path / "mw")
  options = dict(collective_timeout=60, extra_flags=["--sample_every=1000", "--log_every=1000", *TINY_FLAGS])
  chief, worker = start_workers(run_dir, idx_dir, 10000, **options)
  try:
    while not os.path.exists(ckpt(run_dir, 2) + ".index") and chief.poll() is None:
      time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)  # The non-chief, as a preempted VM of the job would be.
    outputs = finish([chief, worker], timeout=240)
  finally:
    for proc in (chief, worker):
      if proc.poll() is None:
        proc.kill()
      proc.wait()
  steps = set()
  for (code, err), cause in zip(outputs, ("another worker of the job received a stop signal",
                                          "this worker received SIGTERM")):
    assert code == main_lib.EXIT_STOPPED, err[-3000:]
    [line] = [line for line in err.splitlines() if line.startswith("Stopped")]
    match = re.fullmatch(rf"Stopped at step (\d+) of 10000 \({cause}; every worker stopped after this step\); the "
                         rf"chief saved (\S+)\. Restart every worker with the same command to resume from step "
                         rf"\1\.", line)
    assert match, line
    steps.add(int(match.group(1)))
    assert match.group(2) == ckpt(run_dir, int(match.group(1)))
  [step] = steps  # The same step on both.
  # The newest checkpoint, which a restart of every worker resumes from (as after a lost worker, above).
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, step)


class SignalAt(keras.callbacks.Callback):
  """Sends this process `signum` when training begins (`at=0`) or after its `at`-th step."""

  def __init__(self, signum, at):
    super().__init__()
    self.signum, self.at, self.steps = signum, at, 0

  def on_train_begin(self, logs=None):
    if self.at == 0:
      os.kill(os.getpid(), self.signum)

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1
    if self.steps == self.at:
      os.kill(os.getpid(), self.signum)


@pytest.mark.slow
def test_signals_before_the_first_checkpoint_and_during_the_save_lose_nothing(runs, tmp_path, monkeypatch,
                                                                              absl_records):
  run_dir = str(tmp_path / "early")
  config = run_config(run_dir, runs["idx_dir"], train_steps=6)  # Its first checkpoint would be at step 2.

  # While the run is being set up: nothing trained, nothing to save.
  with pytest.raises(preemption.TrainingStopped) as stopped:
    train.train(config, extra_callbacks=[SignalAt(signal.SIGTERM, 0)])
  assert stopped.value.step is None and "nothing was trained" in str(stopped.value)
  assert not glob.glob(ckpt(run_dir, "*") + "*")
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # The handlers are set back once training ends.

  # After the first step, before the first checkpoint: that step is saved.
  with pytest.raises(preemption.TrainingStopped) as stopped:
    train.train(config, extra_callbacks=[SignalAt(signal.SIGTERM, 1)])
  assert stopped.value.step == 1 and str(stopped.value) == (
      f"Stopped by SIGTERM at step 1 of 6; saved {ckpt(run_dir, 1)}. Run the same command to resume from step 1.")
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 1)

  # Resumed at step 1 and stopped after step 3, with Ctrl-C pressed inside the stop's save.
  real_save = tf.train.CheckpointManager.save

  def save_interrupted(manager, *args, **kwargs):
    if kwargs.get("checkpoint_number") == 3:  # The stop's save, not step 2's regular one.
      os.kill(os.getpid(), signal.SIGINT)
    return real_save(manager, *args, **kwargs)

  monkeypatch.setattr(tf.train.CheckpointManager, "save", save_interrupted)
  with pytest.raises(preemption.TrainingStopped, match="at step 3 of 6"):
    train.train(config, extra_callbacks=[SignalAt(signal.SIGTERM, 2)])
  monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)
  assert any("SIGINT received while stopping on SIGTERM" in m for m in absl_records), absl_records
  assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) == ckpt(run_dir, 3)

  train.train(config)
  assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))


@pytest.mark.slow
def test_a_signal_during_an_evaluation_abandons_it_and_the_rerun_measures_that_step(runs, tmp_path, monkeypatch,
                                                                                      absl_records):
  measuring = dict(eval_every=3, train_eval_samples=40, eval_metrics="conditional_accuracy",
                   evaluator_dir=str(tmp_path / "evaluators"), evaluator_epochs=1)
  evaluator_lib.train_evaluator(run_config("", runs["idx_dir"], **measuring))
  straight = str(tmp_path / "straight")
  train.train(run_config(straight, runs["idx_dir"], train_steps=6, **measuring))
  run_dir = str(tmp_path / "stopped")
  config = run_config(run_dir, runs["idx_dir"], train_steps=6, **measuring)
  real_generate = sources_lib.GeneratorSource.generate

  def generate_then_signal(source, *args):
    os.kill(os.getpid(), signal.SIGTERM)  # In the middle of measuring step 3.
    return real_generate(source, *args)

  monkeypatch.setattr(sources_lib.GeneratorSource, "generate", generate_then_signal)
  with pytest.raises(preemption.TrainingStopped, match="at step 3 of 6"):
    train.train(config)
  monkeypatch.setattr(sources_lib.GeneratorSource, "generate", real_generate)
  assert any("measurement of step 3 was abandoned" in m for m in absl_records)
  metrics_path = RunDir(run_dir).metrics
  with open(metrics_path) as f:
    assert [json.loads(line)["source"] for line in f] == ["real_train"]  # Nothing of step 3 was written.
  with open(metrics_path, "a") as f:
    f.write('{"step": 3, "source": "generated", "conditional_acc')  # As a kill in the middle of a write leaves it.
  train.train(config)
  assert any(m.startswith(f"{metrics_path}: dropped its last line, cut short by an interrupted write") for m in
             absl_records)
  assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))  # Measuring changes no training state.

  def measured(path):
    with open(path) as f:
      records = [json.loads(line) for line in f]  # Every line whole.
    return [(r["step"], r["conditional_accuracy"]) for r in records if r["source"] == "generated"]

  # Step 3 measured first by the rerun, with the figures the uninterrupted run had.
  assert measured(metrics_path) == measured(RunDir(straight).metrics) and len(measured(metrics_path)) == 2


# --- Nothing is written until the run is known to continue -----------------------------------------------------

def tree_digest(directory: str) -> dict:
  """Every file and folder under `directory` by relative path: a file's sha256, a folder's None. The lock
  file is left out: taking the lock writes who holds it."""
  digest = {}
  for folder, subdirs, names in os.walk(directory):
    for name in subdirs:
      digest[os.path.relpath(os.path.join(folder, name), directory)] = None
    for name in names:
      path = os.path.join(folder, name)
      if os.path.relpath(path, directory) != os.path.basename(RunDir(directory).lock):
        with open(path, "rb") as f:
          digest[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
  return digest


def _remove_config(run_dir):
  os.remove(RunDir(run_dir).config)


def _config_is(content):
  def damage(run_dir):
    overwrite(RunDir(run_dir).config, content)
  return damage


def _config_is_a_directory(run_dir):
  _remove_config(run_dir)
  os.makedirs(RunDir(run_dir).config)


def _damage_every_checkpoint(run_dir):
  for path in glob.glob(ckpt(run_dir, "*") + ".data-*"):
    overwrite(path)


REFUSALS = {
    "another width": (None, dict(g_filters=32), ConfigError,
                      r"^--g_filters: .* holds a run with g_filters=16, but this run has g_filters=32"),
    "another width, config.json gone": (_remove_config, dict(g_filters=32), CheckpointError,
                                        r"^no checkpoint in .* can be restored: .*config.json is missing"),
    "another optimizer": (None, dict(optimizer="rmsprop"), ConfigError,
                          r"^--optimizer: .* holds a run with optimizer='adam', but this run has optimizer='rmsprop'"),
    "float64": (None, dict(precision="float64"), ConfigError, r"^--precision: .*float64 weights continue only"),
    "float64, config.json gone": (_remove_config, dict(precision="float64"), CheckpointError,
                                  r"^--precision=float64: the checkpoint .* holds float32 weights"),
    "moving average switched off": (None, dict(ema_decay=0.0), ConfigError, r"^--ema_decay: .* holds a run with a "
                                    r"moving average of the generator, this run has --ema_decay=0.0"),
    "config.json not UTF-8": (_config_is(b"\xff\xfe{\x00"), {}, ConfigError,
                              r"^--run_dir: .*config.json is not a valid cgan_tf configuration \('utf-8' codec"),
    "config.json a list": (_config_is(b"[]"), {}, ConfigError,
                           r"config.json is not a valid cgan_tf configuration \(a configuration is a JSON object of "
                           r"fields, got list \[\]\); restore it from a copy, or delete it"),
    "config.json a string": (_config_is(b'"hello"'), {}, ConfigError, r"got str \"hello\""),
    "config.json a directory": (_config_is_a_directory, {}, ConfigError,
                                r"config.json is a directory, not the run's configuration file"),
    "every checkpoint damaged": (_damage_every_checkpoint, {}, CheckpointError,
                                 r"^no checkpoint in .* can be restored"),
    "another trainer holds it": ("lock", {}, run_lock.RunDirBusyError, r"is being trained by another process"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_resume_leaves_every_file_byte_identical(runs, tmp_path, policy, case):
  prepare, overrides, error, message = REFUSALS[case]
  run_dir = str(tmp_path / "run")
  shutil.copytree(runs["four"], run_dir)
  if callable(prepare):
    prepare(run_dir)
  before = tree_digest(run_dir)
  with run_lock.RunLock(run_dir) if prepare == "lock" else contextlib.nullcontext():
    with pytest.raises(error, match=message):
      train.train(run_config(run_dir, runs["idx_dir"], train_steps=6, **overrides))
  assert tree_digest(run_dir) == before
  if case == "another width":  # The way out the message gives works: the original command resumes.
    train.train(run_config(run_dir, runs["idx_dir"], train_steps=6))
    assert_same_checkpoint(ckpt(run_dir, 6), ckpt(runs["straight"], 6))


@pytest.mark.slow
def test_an_allowed_change_is_logged_and_recorded(runs, tmp_path, absl_records):
  run_dir = str(tmp_path / "run")
  shutil.copytree(runs["four"], run_dir)
  train.train(run_config(run_dir, runs["idx_dir"], train_steps=6, loss="hinge"))
  assert f"Resuming with changes since {RunDir(run_dir).config} was written: --loss: nonsaturating -> hinge; " \
         f"--train_steps: 4 -> 6" in absl_records
  assert RunDir(run_dir).saved_config().loss == "hinge"


# --- Bad input not covered elsewhere (docs/reliability.md cites the existing tests for the rest) ----------------

def test_unknown_dataset_name_is_refused_naming_the_flag():
  with pytest.raises(ConfigError, match="^--dataset: 'no_such_set' is not a TFDS data set"):
    data.load(Config(run_dir="/tmp/unused", dataset="no_such_set", data_source="tfds"), "train")


def test_resuming_with_another_network_or_image_size_is_refused():
  saved = Config(run_dir="/r", network="cdcgan", image_shape=(28, 28, 1), num_classes=10)
  with pytest.raises(ConfigError, match=r"holds a run with network='cdcgan', but this run has "
                                        r"network='resnet'; its checkpoints cannot be resumed"):
    resume.check_resumable(saved, saved.replace(network="resnet"))
  with pytest.raises(ConfigError, match=r"image_shape=\(28, 28, 1\), but this run has image_shape=\(64, 64, 1\)"):
    resume.check_resumable(saved, saved.replace(image_shape=(64, 64, 1)))


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
      # Its downloads are the PNGs the page offers the user, not fetches.
      assert "download_and_prepare" not in source
      source = source.replace("download", "offer")
    assert not network_modules.search(source), path
    assert "get_file(" not in source, path  # keras.utils.get_file downloads
    if "download" in source.replace("downloading", "").replace("a TFDS download", ""):
      # The only download: TFDS preparing a data set the user named, in data.tfds.load_tfds.
      assert path == os.path.join("cgan_tf", "data", "tfds.py"), path
      assert source.count("download_and_prepare(") == 1
