"""The measurements that run in fresh child processes of tools/benchmark.py, one entry point per kind."""

import os
import shutil
import tempfile
import time

from tools.benchmarks import common
from tools.benchmarks import flops as flops_lib
from tools.benchmarks import quality


def config_from_flagfile(flagfile, flags=()):
  """The validated cgan_tf `Config` of a flagfile (or none) plus extra flags, parsed exactly as cgan_tf.main
  does."""
  from cgan_tf import main as cli

  cli.FLAGS(cli.resolve_presets(["cgan_tf", *([f"--flagfile={flagfile}"] if flagfile else []), *flags]))
  return cli.config_from_flags()


def make_config(spec: dict):
  """The run's Config: from spec['flagfile'] and/or spec['flags'], or from spec['fields']
  (the precision / XLA / replica variants)."""
  from cgan_tf.config import Config

  if spec.get("flagfile") or spec.get("flags"):
    return config_from_flagfile(spec.get("flagfile"), spec.get("flags", ()))
  return Config(**spec["fields"])


def without_bookkeeping(config, steps_per_execution: int):
  """The config with checkpoints, grids, summaries and in-training evaluation beyond the timed window."""
  never = common.NEVER * steps_per_execution
  return config.replace(checkpoint_every=never, sample_every=never, log_every=never, eval_every=0,
                        verbose=0)


def examples_per_step(config) -> int:
  """Real images one cgan_tf step consumes."""
  from cgan_tf.data import pipeline

  return pipeline.examples_per_step(config.batch_size, config.d_steps)


def network_output(config) -> str:
  """The generator's last activation, from the network registry."""
  from cgan_tf import networks

  return networks.get(config.network).output


# What must match the source's recipe for a comparison "at identical architecture".
SOURCE_RECIPE = dict(network="cdcgan", batch_size=128, latent_dim=100, embedding_dim=50, optimizer="adam",
                     g_learning_rate=2e-4, d_learning_rate=2e-4, beta_1=0.5, loss="nonsaturating",
                     update_scheme="alternating", d_steps=1)


def recipe(config) -> dict:
  """The config's values of the SOURCE_RECIPE fields."""
  return {name: getattr(config, name) for name in SOURCE_RECIPE}


def describe_step(config) -> str:
  """What one cgan_tf train step computes under `config`, in words (see cgan_tf.gan.ConditionalGAN)."""
  b = config.batch_size
  if config.update_scheme == "simultaneous":
    text = (f"G forward on {b} noise vectors; D forward on {b} real and on those {b} fake images; D's weight "
            f"gradients from both D passes and G's through the fake pass (one G and two D forwards in all); "
            f"one Adam update of D, one of G")
  else:
    d_part = (f"G forward on {b} fresh noise vectors (no gradient), D forward on {b} real and {b} fake "
              f"images, one backward for D's weight gradients over both, one Adam update of D")
    if config.d_steps > 1:
      d_part = f"{config.d_steps} times [{d_part}]"
    text = (f"{d_part}; then G forward on {b} new noise vectors, D forward, D's input gradients, G's "
            f"backward, one Adam update of G")
  extras = []
  if config.ema_decay:
    extras.append("the moving average of G's weights")
  if config.spectral_norm:
    extras.append("D's spectral-norm power iteration")
  if config.gp_weight or config.r1_gamma:
    extras.append("gradient penalties (not in the FLOP count)")
  if extras:
    text += "; " + ", ".join(extras)
  return text + " (noise and labels drawn inside the compiled step)"


def step_timer(warmup: int, steps: int, steps_per_execution: int, marks: dict):
  """A Keras callback that notes the time at the end of step `warmup` and of step `steps`."""
  import keras

  class StepTimer(keras.callbacks.Callback):
    def __init__(self):
      super().__init__()
      self.done = 0

    def on_train_batch_end(self, batch, logs=None):
      self.done += steps_per_execution
      if self.done in (warmup, steps):
        marks[self.done] = time.perf_counter()

  return StepTimer()


def cgan_steps(spec: dict) -> dict:
  """Trains cgan_tf for spec['steps'] steps and times steps warmup+1..steps.

  spec: flagfile + flags, or fields; steps; warmup; keep_bookkeeping (the preset's checkpoints, grids and
  summaries stay on, for the memory figure); count_flops; profile (the TF profiler cross-check); plan (also
  report the config's own length in steps, its --ema_start and its --ema_decay).
  """
  from cgan_tf import train

  config = make_config(spec)
  steps_per_execution = config.steps_per_execution
  plan = {}
  if spec.get("plan"):
    resolved, data = train.resolve_training_config(config)
    plan = dict(planned_steps=train.total_steps(resolved, len(data.labels)), ema_start=config.ema_start,
                ema_decay=config.ema_decay)
  run_dir = tempfile.mkdtemp(prefix="cgan_tf_benchmark_")
  try:
    config = config.replace(run_dir=run_dir, train_steps=spec["steps"])
    if not spec.get("keep_bookkeeping"):
      config = without_bookkeeping(config, steps_per_execution)
    marks = {}
    started = time.perf_counter()
    model = train.train(config, extra_callbacks=[step_timer(spec["warmup"], spec["steps"],
                                                            steps_per_execution, marks)])
    total_seconds = time.perf_counter() - started
    seconds = marks[spec["steps"]] - marks[spec["warmup"]]
    steps_per_second = (spec["steps"] - spec["warmup"]) / seconds
    result = dict(steps_per_second=steps_per_second, step_seconds=1.0 / steps_per_second,
                  batch_size=config.batch_size, examples_per_step=examples_per_step(config),
                  images_per_second=steps_per_second * examples_per_step(config),
                  g_updates_per_second=steps_per_second, total_seconds=total_seconds,
                  network=config.network, image_shape=list(
                      model.discriminator.inputs[flops_lib.image_input_index(model.discriminator)].shape[1:]),
                  update_scheme=config.update_scheme, d_steps=config.d_steps, settings=recipe(config),
                  steps_per_execution=steps_per_execution, step_description=describe_step(config),
                  **plan, **common.peak_memory())
    if spec.get("count_flops"):
      result["step_flops"] = flops_lib.train_step_flops(
          model.generator, model.discriminator, config.batch_size, result["update_scheme"],
          result["d_steps"])["total"]
      result["uncounted_layers"] = (flops_lib.uncounted_layers(model.generator)
                                    + flops_lib.uncounted_layers(model.discriminator))
      result["penalties"] = {name: getattr(config, name) for name in ("gp_weight", "r1_gamma")
                             if getattr(config, name)}
    if spec.get("profile"):
      try:
        result["profiled_flops"] = flops_lib.profiled_train_step_flops(model, config.batch_size,
                                                                       result["image_shape"])
      except Exception as e:  # The cross-check is optional; say why it is missing.
        result["profiled_flops_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    return result
  finally:
    shutil.rmtree(run_dir, ignore_errors=True)


def profile_steps(spec: dict) -> dict:
  """Traces train steps of a preset with the TF profiler and returns its op statistics by category.

  spec: flagfile + flags; precision and xla (None: the flagfile's); warmup (untimed, untraced steps, the
  last `timed` of them timed without the profiler); trace_steps (traced); timed.
  """
  import keras
  import tensorflow as tf
  from cgan_tf import train
  from tools.benchmarks import op_profile

  config = make_config(spec)
  overrides = {name: spec[name] for name in ("precision", "xla") if spec.get(name)}
  config = config.replace(**overrides)
  warmup, traced = spec["warmup"], spec["trace_steps"]
  steps_per_execution = config.steps_per_execution
  if warmup % steps_per_execution or traced % steps_per_execution or not warmup or not traced:
    raise SystemExit("--warmup and --trace_steps must be positive multiples of the preset's "
                     "--steps_per_execution")
  # The last untraced steps, timed without the profiler: whole calls, at least one, after the first.
  timed = min(spec.get("timed", traced), warmup - steps_per_execution)
  timed -= timed % steps_per_execution
  run_dir = tempfile.mkdtemp(prefix="cgan_tf_profile_")
  logdir = tempfile.mkdtemp(prefix="cgan_tf_trace_")
  marks = {}

  class Tracer(keras.callbacks.Callback):
    """Starts the profiler after step `warmup` and stops it after `traced` more; notes the times."""

    def __init__(self):
      super().__init__()
      self.done = 0

    def on_train_batch_end(self, batch, logs=None):
      self.done += steps_per_execution
      if self.done in (warmup - timed if timed > 0 else -1, warmup + traced):
        if self.done == warmup + traced:
          tf.profiler.experimental.stop()
        marks[self.done] = time.perf_counter()
      elif self.done == warmup:
        marks[self.done] = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        marks["traced_from"] = time.perf_counter()

  try:
    config = without_bookkeeping(config.replace(run_dir=run_dir, train_steps=warmup + traced),
                                 steps_per_execution)
    train.train(config, extra_callbacks=[Tracer()])
    result = op_profile.read_trace(logdir, traced)
    precision = keras.config.dtype_policy().name
  finally:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(logdir, ignore_errors=True)
  result.update(
      unprofiled_ms_per_step=(marks[warmup] - marks[warmup - timed]) * 1000.0 / timed if timed > 0 else None,
      timed_steps=timed,
      traced_ms_per_step=(marks[warmup + traced] - marks["traced_from"]) * 1000.0 / traced,
      network=config.network, batch_size=config.batch_size, precision=precision, xla=config.xla,
      step_description=describe_step(config))
  return result


def _layer_times_module():
  from tools.benchmarks import layer_times

  return layer_times


def _baseline_module():
  from tools import baseline_source_cgan  # Imports Keras: only in the children that run it.

  return baseline_source_cgan


def baseline_steps(spec: dict) -> dict:
  """Runs the source loop (fixed port) for warmup + steps steps and times the last spec['steps'].

  spec: steps; warmup; batch_size, seed, data_dir (optional); d_batch (real images and fakes per D update;
  absent: the source's half batch); count_flops (the step's FLOPs by the layer-counting rule).
  """
  baseline = _baseline_module()
  cgan = baseline.SourceCGAN(baseline.load_real_samples(spec.get("data_dir", common.FASHION_MNIST_DIR)),
                             "fixed", spec.get("batch_size", baseline.BATCH_SIZE), spec.get("seed", 0),
                             spec.get("d_batch"))
  for _ in range(spec["warmup"]):
    cgan.train_step()
  started = time.perf_counter()
  for _ in range(spec["steps"]):
    cgan.train_step()
  steps_per_second = spec["steps"] / (time.perf_counter() - started)
  result = dict(steps_per_second=steps_per_second, step_seconds=1.0 / steps_per_second,
                batch_size=cgan.batch_size, d_batch=cgan.d_batch, examples_per_step=cgan.d_batch,
                images_per_second=steps_per_second * cgan.d_batch, g_updates_per_second=steps_per_second,
                **common.peak_memory())
  if spec.get("count_flops"):
    result["step_flops"] = flops_lib.baseline_step_flops(cgan.g_model, cgan.d_model, cgan.d_batch,
                                                         cgan.batch_size)["total"]
  return result


def pipeline(spec: dict) -> dict:
  """Iterates cgan_tf's tf.data training pipeline alone: spec['warmup'] batches, then spec['batches'] timed."""
  from cgan_tf import train
  from cgan_tf.data import pipeline as pipeline_lib

  config, data = train.resolve_training_config(make_config(spec))
  dataset = pipeline_lib.train_dataset(data, config.batch_size, config.seed, d_steps=config.d_steps,
                                       output=network_output(config))
  iterator = iter(dataset)
  for _ in range(spec["warmup"]):
    next(iterator)
  images = 0
  started = time.perf_counter()
  for _ in range(spec["batches"]):
    batch_images, _ = next(iterator)
    images += int(batch_images.shape[0])
  seconds = time.perf_counter() - started
  return dict(images_per_second=images / seconds, batches=spec["batches"], images=images,
              batch_size=config.batch_size, **common.peak_memory())


def matmul(spec: dict) -> dict:
  """This machine's float32 dense matmul rate in TF, best of spec['repeats'] per size."""
  rates = flops_lib.matmul_rate(spec["sizes"], spec["repeats"])
  return dict(rates={str(size): rate for size, rate in rates.items()})


def _quality_clock(spec: dict, config, latent_dim: int, output: str, noise: str) -> quality.QualityClock:
  """The clock of a time-to-quality run: the data set's evaluator, its real test split as the reference."""
  from cgan_tf import data as data_lib
  from cgan_tf.evaluation import evaluator as evaluator_lib

  evaluator = evaluator_lib.load_evaluator(config)
  probe = quality.QualityProbe(evaluator, data_lib.load(config, "test").images,
                               len(evaluator.info["class_names"]), latent_dim, spec["per_class"], output, noise,
                               spec.get("eval_seed", 0))
  return quality.QualityClock(spec["name"], probe, spec["metric"], spec["threshold"], spec["budget_seconds"],
                              spec["jsonl"], spec.get("seed"))


def tta_cgan(spec: dict) -> dict:
  """Trains a cgan_tf flagfile (+ spec['flags']) until spec['metric'] reaches spec['threshold'] or the
  budget is spent."""
  import keras
  from cgan_tf import train

  config = make_config(spec)
  if config.unconditional:
    raise SystemExit(f"{spec['flagfile']}: an unconditional run has no conditional accuracy")
  clock = _quality_clock(spec, config, config.latent_dim, network_output(config), config.noise)
  every = spec["eval_every"]
  steps_per_execution = config.steps_per_execution

  class QualityCallback(keras.callbacks.Callback):
    """Checks every `every` steps; stops training at the threshold or when the budget is spent."""

    def __init__(self):
      super().__init__()
      self.done = 0
      self.next_check = every

    def _generator(self):
      return self.model.sampling_generator

    def on_train_begin(self, logs=None):
      clock.start()

    def on_train_batch_end(self, batch, logs=None):
      self.done += steps_per_execution
      if self.done >= self.next_check:
        self.next_check += every
        if clock.check(self.done, self._generator()):
          self.model.stop_training = True
          return
      if clock.over_budget():
        if clock.last_step != self.done:
          clock.check(self.done, self._generator())
        self.model.stop_training = True

    def on_train_end(self, logs=None):
      if clock.last_step != self.done:  # The preset's own end came before a check.
        clock.check(self.done, self._generator())

  run_dir = tempfile.mkdtemp(prefix="cgan_tf_quality_")
  try:
    # The preset's own bookkeeping stays on (it is part of what the preset costs); its in-training
    # evaluation is replaced by this clock's, which does not count.
    config = config.replace(run_dir=run_dir, eval_every=0, verbose=0)
    train.train(config, extra_callbacks=[QualityCallback()])
  finally:
    shutil.rmtree(run_dir, ignore_errors=True)
  return dict(clock.result(), examples_per_step=examples_per_step(config))


def tta_baseline(spec: dict) -> dict:
  """Runs the source loop (fixed port; spec: seed, d_batch) until spec['metric'] reaches spec['threshold']
  or the budget is spent."""
  from cgan_tf.config import Config

  baseline = _baseline_module()
  data_dir = spec.get("data_dir", common.FASHION_MNIST_DIR)
  config = Config(dataset="fashion_mnist", data_source="idx", data_dir=data_dir)
  clock = _quality_clock(spec, config, baseline.LATENT_DIM, "tanh", "normal")
  cgan = baseline.SourceCGAN(baseline.load_real_samples(data_dir), "fixed",
                             spec.get("batch_size", baseline.BATCH_SIZE), spec.get("seed", 0),
                             spec.get("d_batch"))
  step = 0
  clock.start()
  while True:
    cgan.train_step()
    step += 1
    if step % spec["eval_every"] == 0 and clock.check(step, cgan.g_model):
      break
    if clock.over_budget():
      if clock.last_step != step:
        clock.check(step, cgan.g_model)
      break
  return dict(clock.result(), examples_per_step=cgan.d_batch)


ENTRY_POINTS = {
    "cgan_steps": cgan_steps,
    "baseline_steps": baseline_steps,
    "pipeline": pipeline,
    "matmul": matmul,
    "tta_cgan": tta_cgan,
    "tta_baseline": tta_baseline,
    "profile_steps": profile_steps,
    "layer_times": lambda spec: _layer_times_module().layer_times(spec),
}


def run(spec: dict) -> None:
  """The child's main: runs spec['kind'] and emits its result for the parent."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  common.emit_result(ENTRY_POINTS[spec["kind"]](spec))
