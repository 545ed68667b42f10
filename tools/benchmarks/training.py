"""cgan_tf and the source loop trained for timed steps in a child process: the child most measurements share.

`cgan_steps` and `baseline_steps` are child entry points (`common.run_child(training.cgan_steps, spec)`); the
other children build their cgan_tf configuration with `make_config`. TensorFlow is imported inside the
functions that run in a child, so a parent can import this module without it.
"""

import shutil
import tempfile
import time

from tools.benchmarks import common
from tools.benchmarks import flops as flops_lib

# Bookkeeping intervals beyond any benchmark's length: no checkpoint, grid or summary inside a timed window.
NEVER = 10 ** 9
# What must match the source's recipe for a comparison "at identical architecture".
SOURCE_RECIPE = dict(network="cdcgan", batch_size=128, latent_dim=100, embedding_dim=50, optimizer="adam",
                     g_learning_rate=2e-4, d_learning_rate=2e-4, beta_1=0.5, loss="nonsaturating",
                     update_scheme="alternating", d_steps=1)


def cgan_spec(flagfile: str, steps: int, warmup: int, flags=(), **extra) -> dict:
  """The spec of a `cgan_steps` child: a flagfile plus flags, `steps` steps of which the first `warmup`
  are untimed, and any of its options (count_flops, profile, keep_bookkeeping, plan)."""
  return dict(flagfile=flagfile, flags=list(flags), steps=steps, warmup=warmup, **extra)


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
  never = NEVER * steps_per_execution
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


def describe_baseline_step(d_batch: int, batch: int) -> str:
  """What one step of tools/baseline_source_cgan.py computes, in words."""
  predict_calls = -(-d_batch // 32)
  return (f"D.train_on_batch on {d_batch} real images; G.predict on {d_batch} noise vectors (Keras's default "
          f"predict batch of 32: {predict_calls} call{'s' if predict_calls > 1 else ''} of G); D.train_on_batch "
          f"on those {d_batch} fakes; gan.train_on_batch on {batch} noise vectors (G forward, D forward, D's "
          f"input gradients with D frozen, G's backward); two Adam updates of D, one of G; numpy noise, labels "
          f"and real-image indices drawn on the host and copied in")


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
  """The child: trains cgan_tf for spec['steps'] steps and times steps warmup+1..steps.

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


def source_loop(spec: dict):
  """The source loop (the fixed port) of a child: spec's batch_size, seed, d_batch and data_dir, each
  optional (absent d_batch: the source's half batch)."""
  from tools import baseline_source_cgan as baseline  # Imports Keras: only in the children that run it.

  data_dir = spec.get("data_dir", baseline.FASHION_MNIST_DIR)
  return baseline.SourceCGAN(baseline.load_real_samples(data_dir), "fixed",
                             spec.get("batch_size", baseline.BATCH_SIZE), spec.get("seed", 0), spec.get("d_batch"))


def baseline_steps(spec: dict) -> dict:
  """The child: runs the source loop for warmup + steps steps and times the last spec['steps'].

  spec: steps; warmup; what `source_loop` takes; count_flops (the step's FLOPs by the layer-counting rule).
  """
  cgan = source_loop(spec)
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
