"""Step-interval callbacks whose logic needs no training: the wall-clock stop and what it does not count."""

import types

from cgan_tf import callbacks as callbacks_lib


class FakeClock:
  def __init__(self):
    self.now = 1000.0

  def __call__(self):
    return self.now


def stop_after(minutes, monkeypatch, pausers=()):
  clock = FakeClock()
  monkeypatch.setattr(callbacks_lib.time, "perf_counter", clock)
  callback = callbacks_lib.StopAfterTime(0, 1, minutes, pausers)
  callback.set_model(types.SimpleNamespace(stop_training=False))
  callback.on_train_begin()
  return callback, clock


def test_training_stops_once_the_minutes_have_passed(monkeypatch):
  callback, clock = stop_after(2.0, monkeypatch)
  clock.now += 119.0
  callback.on_train_batch_end(0)
  assert not callback.model.stop_training
  clock.now += 1.0
  callback.on_train_batch_end(1)
  assert callback.model.stop_training and callback.step == 2


def test_time_spent_measuring_is_not_training_time(monkeypatch):
  evaluation = types.SimpleNamespace(paused_seconds=0.0)
  callback, clock = stop_after(1.0, monkeypatch, pausers=[evaluation])
  clock.now += 50.0
  evaluation.paused_seconds += 30.0  # A measurement took 30 s of the 80 s so far.
  clock.now += 30.0
  callback.on_train_batch_end(0)
  assert not callback.model.stop_training and callback.training_seconds() == 50.0
  clock.now += 10.0
  callback.on_train_batch_end(1)
  assert callback.model.stop_training


# --- TensorBoard: per-interval means, learning rates, the configuration --------------------------------

import glob
import io
import json
import os

import keras
import pytest
import tensorflow as tf

from cgan_tf import train
from cgan_tf.config import Config


def read_events(log_dir):
  """{tag: [(step, value)]} for scalars, {tag: [(step, text)]} for text, from every event file."""
  scalars, texts = {}, {}
  for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        plugin = value.metadata.plugin_data.plugin_name
        if plugin == "text":
          texts.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor).item().decode()))
        elif value.HasField("tensor") and plugin == "scalars":
          scalars.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
        else:
          scalars.setdefault(value.tag, []).append((event.step, None))
  return scalars, texts


class FakeGAN:
  """The parts of the GAN model ScalarWriter uses: Keras Mean trackers and two optimizers, one wrapped in a
  LossScaleOptimizer as under mixed_float16."""

  def __init__(self):
    self.trackers = {"d_loss": keras.metrics.Mean(name="d_loss")}
    self.g_optimizer = keras.optimizers.Adam(1e-3)
    self.d_optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(3e-4))

  @property
  def metrics(self):
    return list(self.trackers.values())

  def reset_metrics(self):
    for tracker in self.metrics:
      tracker.reset_state()

  def step(self, value):
    self.trackers["d_loss"].update_state(value)
    return {name: float(tracker.result()) for name, tracker in self.trackers.items()}


def test_each_point_is_the_mean_of_its_own_interval(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path))
  callback = callbacks_lib.ScalarWriter(0, 1, 2, writer)
  model = FakeGAN()
  callback.set_model(model)
  for batch, value in enumerate([1.0, 3.0, 10.0, 20.0]):
    callback.on_train_batch_end(batch, model.step(value))
  callback.on_train_end()
  scalars, _ = read_events(str(tmp_path))
  # Running means would give 2 and 8.5; the interval means are 2 and 15.
  assert scalars["train/d_loss"] == [(2, 2.0), (4, 15.0)]
  assert [value for _, value in scalars["train/g_learning_rate"]] == pytest.approx([1e-3, 1e-3])
  assert [value for _, value in scalars["train/d_learning_rate"]] == pytest.approx([3e-4, 3e-4])


def test_the_configuration_is_written_as_text_and_hparams(tmp_path):
  config = Config(run_dir=str(tmp_path / "run"), batch_size=48, g_learning_rate=1e-4)
  writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
  callback = callbacks_lib.ScalarWriter(5, 1, 1, writer, config=config)
  callback.set_model(FakeGAN())
  callback.on_train_begin()
  scalars, texts = read_events(str(tmp_path / "logs"))
  [(step, text)] = texts["config"]
  assert step == 5 and json.loads(text.replace("\n    ", "\n")) == json.loads(config.to_json())
  assert "_hparams_/session_start_info" in scalars


# --- The progress line and the summary -----------------------------------------------------------------


def progress(config, clock, watched=(), start_step=0, total=10):
  stream = io.StringIO()
  callback = callbacks_lib.Progress(start_step, 1, total, 32, config, config.run_dir, watched=watched,
                                    stream=stream, clock=clock)
  callback.set_model(types.SimpleNamespace(stop_training=False))
  return callback, stream


def test_progress_lines_are_whole_lines_at_the_interval_with_rate_eta_and_evaluation(tmp_path):
  clock = FakeClock()
  evaluation = types.SimpleNamespace(paused_seconds=0.0, latest=None)
  config = Config(run_dir=str(tmp_path), progress_seconds=10.0)
  callback, stream = progress(config, clock, watched=[evaluation])
  callback.on_train_begin()
  clock.now += 5.0  # Tracing.
  callback.on_train_batch_end(0, {"d_loss": 1.25, "g_loss": 0.5})
  for batch in range(1, 5):  # One step a second: no line until 10 s have passed.
    clock.now += 1.0
    callback.on_train_batch_end(batch, {"d_loss": 1.0, "g_loss": 0.75})
  assert stream.getvalue().count("\n") == 1
  evaluation.latest = (4, {"frechet_distance": 12.5})
  evaluation.paused_seconds = 4.0  # The evaluation took 4 s of the next 10.
  clock.now += 10.0
  callback.on_train_batch_end(5, {"d_loss": 1.0, "g_loss": 0.75})
  first, second = stream.getvalue().splitlines()
  assert first.startswith("step 1/10 (10%) | 5s (the first step includes tracing) | d_loss 1.25 g_loss 0.5")
  # 5 steps in 14 s of wall time, 10 of them training: 5 * 32 / 10 = 16 img/s; ETA 4 steps * 14 / 5 s.
  assert second == ("step 6/10 (60%) | 19s, ETA 11s | 16 img/s | d_loss 1 g_loss 0.75 | "
                    "eval@4 frechet_distance 12.5")


def test_summary_names_the_files_and_commands_that_work_on_the_run(tmp_path):
  clock = FakeClock()
  run_dir = str(tmp_path / "my run")
  os.makedirs(os.path.join(run_dir, "samples"))
  for step in (0, 10):
    open(os.path.join(run_dir, "samples", f"grid_{step:08d}.png"), "wb").close()
  config = Config(run_dir=run_dir, num_classes=10)
  callback, stream = progress(config, clock)
  callback.on_train_begin()
  for batch in range(10):
    clock.now += 1.0
    callback.on_train_batch_end(batch, {"d_loss": 1.0})
  callback.on_train_end()
  text = stream.getvalue()
  assert "Trained steps 0-10 of 10 in 10s." in text
  assert f"grid         {run_dir}/samples/grid_00000010.png  (2 frames" in text
  assert f"checkpoints  {run_dir}/checkpoints" in text
  quoted = f"'{run_dir}'"
  assert f"tensorboard --logdir '{run_dir}/logs'" in text
  assert f"-m cgan_tf.main --run_dir={quoted} --mode=sample --label=-1 --output_dir='{run_dir}/sampled'" in text
  assert f"-m cgan_tf.main --run_dir={quoted} --mode=eval" in text
  assert f"-m cgan_tf.main --run_dir={quoted} --mode=export --export_dir='{run_dir}/export'" in text
  assert f"tools/make_gallery.py --run_dir={quoted}" in text


def test_verbose_0_prints_nothing(tmp_path):
  callback, stream = progress(Config(run_dir=str(tmp_path), verbose=0), FakeClock())
  callback.on_train_begin()
  callback.on_train_batch_end(0, {"d_loss": 1.0})
  callback.on_train_end()
  assert stream.getvalue() == ""


@pytest.mark.slow
@pytest.mark.parametrize("precision, steps_per_execution", [("float32", 1), ("mixed_float16", 2)])
def test_a_run_prints_progress_and_a_summary_and_logs_interval_means(smoke_config, capsys, precision,
                                                                     steps_per_execution):
  config = smoke_config(train_steps=4, log_every=2, checkpoint_every=2, sample_every=2, verbose=1,
                        progress_seconds=0.0, precision=precision, steps_per_execution=steps_per_execution)
  train.train(config)
  out = capsys.readouterr().out
  lines = [line for line in out.splitlines() if line.startswith("step ")]
  expected_steps = list(range(steps_per_execution, 5, steps_per_execution))
  assert [int(line.split()[1].split("/")[0]) for line in lines] == expected_steps
  assert all("/4 (" in line and "d_loss " in line and "g_loss " in line for line in lines)
  assert "img/s" in lines[-1] and "ETA 0s" in lines[-1]
  assert "Trained steps 0-4 of 4" in out and "--mode=eval" in out and "grid_00000004.png" in out
  scalars, texts = read_events(os.path.join(config.run_dir, "logs"))
  assert [step for step, _ in scalars["train/d_loss"]] == [2, 4]
  assert [step for step, _ in scalars["train/g_learning_rate"]] == [2, 4]
  assert "config" in texts and "_hparams_/session_start_info" in scalars
  if precision == "mixed_float16":
    assert {"train/d_loss_scale", "train/g_loss_scale"} <= set(scalars)
