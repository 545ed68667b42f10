"""BENCHMARK BASELINE, not part of cgan_tf: the source material's Fashion-MNIST cGAN loop, ported to Keras 3.

A faithful port of Jason Brownlee's "How to Develop a Conditional GAN (cGAN) From Scratch"
(machinelearningmastery.com), the Fashion-MNIST version, kept only so tools/benchmark.py can measure
cgan_tf against the recipe it came from. The networks are cgan_tf's `cdcgan` at 28x28 (the same layers
and sizes; D ends in a sigmoid here, a logit there). Each step, as in the source:

  1. D.train_on_batch on half a batch of randomly chosen real images, target ones;
  2. G.predict on half a batch of numpy noise and random labels, then D.train_on_batch on those fakes,
     target zeros;
  3. the combined G->D model (D frozen) .train_on_batch on a full batch of numpy noise, target ones.

Keras 3 breaks the literal port silently: `trainable` is read when a train function is
traced, not when the model is compiled, and a new input dtype retraces. The source freezes D in
`define_gan` before D's train function is ever traced, so under Keras 3.15 D never learns at all
(`--variant=literal`; the only sign is one "does not have any trainable weights" warning). If D's
function is first traced while D is trainable, on the real batch's int32 labels, the fake batch's int64
labels from `numpy.random.randint` retrace it after D was frozen, and D silently stops training on fakes
only (`--variant=traced_before_freezing`). The `fixed` variant, the default and the benchmark baseline,
changes only that: D is trainable around its own updates and frozen around the combined model's (the
compile-time freeze that Keras 2 gave the source), and the random labels are int32 like the real ones,
so nothing retraces. `--check` proves it on one step: D's weights change in both D updates and not in the
combined update, and G's change in the combined update.

`--d_batch` (benchmarks only; the source's loop leaves it at half the batch) sets how many real images and
how many fakes each D update takes. At `--d_batch` equal to the batch a step does the arithmetic of a
cgan_tf alternating step at that batch: G forward on d_batch noise, D forward and backward (weight
gradients) on d_batch real and d_batch fake images, then G forward, D forward, D's input gradients and
G's backward on the full batch.

  python tools/baseline_source_cgan.py --check                      # the update check, fixed port
  python tools/baseline_source_cgan.py --check --variant=literal    # ... fails: D never changes
  python tools/baseline_source_cgan.py --epochs=100                 # the source's full run (hours on CPU)
  python tools/baseline_source_cgan.py --steps=50 --d_batch=128      # D on 128 real + 128 fakes per step
"""

import argparse
import dataclasses
import os
import sys
import time
from typing import Callable, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from keras import layers  # noqa: E402
import numpy as np  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
LATENT_DIM = 100
NUM_CLASSES = 10
BATCH_SIZE = 128
VARIANTS = ("fixed", "literal", "traced_before_freezing")
PHASES = ("d_real", "d_fake", "gan")


def _adam() -> keras.optimizers.Optimizer:
  return keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5)


def define_discriminator(in_shape=(28, 28, 1), n_classes: int = NUM_CLASSES) -> keras.Model:
  """The source's D: a label channel from Embedding(50) -> Dense(H*W), two stride-2 convs, a sigmoid."""
  in_label = keras.Input(shape=(1,))
  label_map = layers.Embedding(n_classes, 50)(in_label)
  label_map = layers.Dense(in_shape[0] * in_shape[1])(label_map)
  label_map = layers.Reshape((in_shape[0], in_shape[1], 1))(label_map)
  in_image = keras.Input(shape=in_shape)
  features = layers.Concatenate()([in_image, label_map])
  features = layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same")(features)
  features = layers.LeakyReLU(negative_slope=0.2)(features)
  features = layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same")(features)
  features = layers.LeakyReLU(negative_slope=0.2)(features)
  features = layers.Flatten()(features)
  features = layers.Dropout(0.4)(features)
  out_layer = layers.Dense(1, activation="sigmoid")(features)
  model = keras.Model([in_image, in_label], out_layer)
  model.compile(loss="binary_crossentropy", optimizer=_adam(), metrics=["accuracy"])
  return model


def define_generator(latent_dim: int = LATENT_DIM, n_classes: int = NUM_CLASSES) -> keras.Model:
  """The source's G: Dense(7*7*128) of the noise plus a 7x7 label channel, two stride-2 transposed convs."""
  in_label = keras.Input(shape=(1,))
  label_map = layers.Embedding(n_classes, 50)(in_label)
  label_map = layers.Dense(7 * 7)(label_map)
  label_map = layers.Reshape((7, 7, 1))(label_map)
  in_lat = keras.Input(shape=(latent_dim,))
  gen = layers.Dense(128 * 7 * 7)(in_lat)
  gen = layers.LeakyReLU(negative_slope=0.2)(gen)
  gen = layers.Reshape((7, 7, 128))(gen)
  merge = layers.Concatenate()([gen, label_map])
  gen = layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same")(merge)
  gen = layers.LeakyReLU(negative_slope=0.2)(gen)
  gen = layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same")(gen)
  gen = layers.LeakyReLU(negative_slope=0.2)(gen)
  out_layer = layers.Conv2D(1, (7, 7), activation="tanh", padding="same")(gen)
  return keras.Model([in_lat, in_label], out_layer)


def define_gan(g_model: keras.Model, d_model: keras.Model) -> keras.Model:
  """The source's combined model G->D, compiled with D frozen (which Keras 3 does not capture here)."""
  d_model.trainable = False
  gen_noise, gen_label = g_model.input
  gan_output = d_model([g_model.output, gen_label])
  model = keras.Model([gen_noise, gen_label], gan_output)
  model.compile(loss="binary_crossentropy", optimizer=_adam())
  return model


def load_real_samples(data_dir: str = FASHION_MNIST_DIR):
  """Fashion-MNIST's train split from the Debian IDX files: [images float32 in [-1, 1], labels int32]."""
  from cgan_tf.data import idx  # Only the IDX reader: the source's keras.datasets needs internet.

  train = idx.load_idx(data_dir, "train")
  images = (train.images.astype("float32") - 127.5) / 127.5
  return [images, train.labels]


def generate_real_samples(dataset, n_samples: int, rng: np.random.RandomState):
  """`n_samples` real images and labels chosen at random (with replacement), and targets of ones."""
  images, labels = dataset
  ix = rng.randint(0, images.shape[0], n_samples)
  return [images[ix], labels[ix]], np.ones((n_samples, 1))


def generate_latent_points(latent_dim: int, n_samples: int, rng: np.random.RandomState,
                           n_classes: int = NUM_CLASSES, label_dtype=None):
  """Numpy noise [n_samples, latent_dim] and random labels; `label_dtype` None keeps randint's int64."""
  z_input = rng.randn(latent_dim * n_samples).reshape(n_samples, latent_dim)
  labels = rng.randint(0, n_classes, n_samples)
  if label_dtype is not None:
    labels = labels.astype(label_dtype)  # The same values: the fix changes no random number.
  return [z_input, labels]


def generate_fake_samples(generator: keras.Model, latent_dim: int, n_samples: int,
                          rng: np.random.RandomState, label_dtype=None):
  """`n_samples` images from `generator.predict`, their labels, and targets of zeros."""
  z_input, labels_input = generate_latent_points(latent_dim, n_samples, rng, label_dtype=label_dtype)
  images = generator.predict([z_input, labels_input], verbose=0)
  return [images, labels_input], np.zeros((n_samples, 1))


class SourceCGAN:
  """The three models and the source's training step, in one of the `VARIANTS`.

  Args:
    dataset: [images float32 [N, 28, 28, 1] in [-1, 1], labels int [N]], as `load_real_samples` returns.
    variant: 'fixed' (the benchmark baseline), 'literal' (the source as written) or
      'traced_before_freezing' (D's train function traced on one real half-batch before D is frozen).
    batch_size: the full batch of the combined update; each D update gets half of it unless `d_batch`.
    seed: seeds Keras's initializers and the numpy sampling.
    d_batch: real images, and fakes, per D update; None is the source's half batch. The full batch gives
      the per-step arithmetic of cgan_tf's alternating step (the equal-work throughput figure).
  """

  def __init__(self, dataset, variant: str = "fixed", batch_size: int = BATCH_SIZE, seed: int = 0,
               d_batch: Optional[int] = None):
    if variant not in VARIANTS:
      raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if d_batch is not None and d_batch <= 0:
      raise ValueError(f"d_batch must be positive, got {d_batch}")
    keras.utils.set_random_seed(seed)
    self.dataset = dataset
    self.variant = variant
    self.batch_size = batch_size
    self.half_batch = batch_size // 2
    self.d_batch = self.half_batch if d_batch is None else d_batch
    self.rng = np.random.RandomState(seed)
    # int32 like the real labels, so D's train function keeps one trace for real and fake batches.
    self.label_dtype = np.int32 if variant == "fixed" else None
    self.d_model = define_discriminator()
    self.g_model = define_generator(LATENT_DIM)
    if variant == "traced_before_freezing":
      # What a first Keras 3 fix tends to do: make D's function trace while D is still trainable.
      [x_real, labels_real], y_real = generate_real_samples(dataset, self.d_batch, self.rng)
      self.d_model.train_on_batch([x_real, labels_real], y_real)
    self.gan_model = define_gan(self.g_model, self.d_model)

  def _set_d_trainable(self, trainable: bool) -> None:
    # The fix: each train function, and any retrace of it, reads the flag its own model needs.
    if self.variant == "fixed":
      self.d_model.trainable = trainable

  def train_step(self, on_phase_end: Optional[Callable[[str], None]] = None):
    """One step of the source's loop; returns (d_loss_real, d_loss_fake, g_loss).

    Args:
      on_phase_end: called with each of `PHASES` after that update (for `check_updates`).
    """
    self._set_d_trainable(True)
    [x_real, labels_real], y_real = generate_real_samples(self.dataset, self.d_batch, self.rng)
    d_loss1, _ = self.d_model.train_on_batch([x_real, labels_real], y_real)
    if on_phase_end:
      on_phase_end("d_real")
    [x_fake, labels], y_fake = generate_fake_samples(self.g_model, LATENT_DIM, self.d_batch, self.rng,
                                                     self.label_dtype)
    d_loss2, _ = self.d_model.train_on_batch([x_fake, labels], y_fake)
    if on_phase_end:
      on_phase_end("d_fake")
    self._set_d_trainable(False)
    [z_input, labels_input] = generate_latent_points(LATENT_DIM, self.batch_size, self.rng,
                                                     label_dtype=self.label_dtype)
    y_gan = np.ones((self.batch_size, 1))
    g_loss = self.gan_model.train_on_batch([z_input, labels_input], y_gan)
    if on_phase_end:
      on_phase_end("gan")
    return d_loss1, d_loss2, g_loss

  @property
  def steps_per_epoch(self) -> int:
    return int(self.dataset[0].shape[0] / self.batch_size)

  def train(self, n_epochs: int = 100, max_steps: int = 0, log_every: int = 1) -> int:
    """The source's loop: `n_epochs` of len(data) / batch_size steps (or stop after `max_steps`).

    Returns:
      The number of steps run.
    """
    steps = 0
    for epoch in range(n_epochs):
      for batch in range(self.steps_per_epoch):
        d_loss1, d_loss2, g_loss = self.train_step()
        steps += 1
        if log_every and steps % log_every == 0:
          print(">%d, %d/%d, d1=%.3f, d2=%.3f g=%.3f" % (epoch + 1, batch + 1, self.steps_per_epoch,
                                                          d_loss1, d_loss2, g_loss), flush=True)
        if steps == max_steps:
          return steps
    return steps


@dataclasses.dataclass
class UpdateCheck:
  """Which weight arrays each update of one step changed: per phase, (D changed, G changed).

  Attributes:
    changed: phase -> (number of D's weight arrays changed, number of G's weight arrays changed).
    d_count: number of D's weight arrays.
    g_count: number of G's weight arrays.
  """

  changed: dict
  d_count: int
  g_count: int

  def failures(self) -> List[str]:
    """What went wrong, in words; empty when D learns in both D updates and only G in the combined one."""
    problems = []
    for phase in ("d_real", "d_fake"):
      d_changed, g_changed = self.changed[phase]
      if d_changed != self.d_count:
        problems.append(f"{phase}: D.train_on_batch changed {d_changed} of D's {self.d_count} weight arrays")
      if g_changed:
        problems.append(f"{phase}: D.train_on_batch changed {g_changed} of G's weight arrays")
    d_changed, g_changed = self.changed["gan"]
    if d_changed:
      problems.append(f"gan: the combined update changed {d_changed} of D's {self.d_count} weight arrays")
    if g_changed != self.g_count:
      problems.append(f"gan: the combined update changed {g_changed} of G's {self.g_count} weight arrays")
    return problems

  @property
  def ok(self) -> bool:
    return not self.failures()

  def table(self) -> str:
    """The check as a Markdown table."""
    lines = ["| update | D weight arrays changed | G weight arrays changed | expected |",
             "|---|---:|---:|---|"]
    expected = {"d_real": "all of D, none of G", "d_fake": "all of D, none of G",
                "gan": "none of D, all of G"}
    for phase in PHASES:
      d_changed, g_changed = self.changed[phase]
      lines.append(f"| {phase} | {d_changed}/{self.d_count} | {g_changed}/{self.g_count} | "
                   f"{expected[phase]} |")
    return "\n".join(lines)


def _snapshot(model: keras.Model) -> List[np.ndarray]:
  return [np.array(w.numpy(), copy=True) for w in model.weights]


def _count_changed(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> int:
  return sum(not np.array_equal(a, b) for a, b in zip(before, after))


def check_updates(cgan: SourceCGAN) -> UpdateCheck:
  """Runs one `train_step` and records which networks each of its three updates changed.

  Args:
    cgan: the port, in any variant (the check runs the same step the benchmark does).

  Returns:
    The per-update counts; `.ok` is True when D changes in both D updates and not in the combined one,
    and G changes in the combined one only.
  """
  previous = {"d": _snapshot(cgan.d_model), "g": _snapshot(cgan.g_model)}
  changed = {}

  def record(phase: str) -> None:
    now = {"d": _snapshot(cgan.d_model), "g": _snapshot(cgan.g_model)}
    changed[phase] = (_count_changed(previous["d"], now["d"]), _count_changed(previous["g"], now["g"]))
    previous.update(now)

  cgan.train_step(on_phase_end=record)
  return UpdateCheck(changed, len(cgan.d_model.weights), len(cgan.g_model.weights))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--variant", choices=VARIANTS, default="fixed")
  parser.add_argument("--data_dir", default=FASHION_MNIST_DIR, help="the Fashion-MNIST IDX files")
  parser.add_argument("--batch_size", type=int, default=BATCH_SIZE)
  parser.add_argument("--d_batch", type=int, default=0,
                      help="real images and fakes per D update (0: half the batch, as the source; the batch: "
                           "the arithmetic of a cgan_tf alternating step)")
  parser.add_argument("--epochs", type=int, default=100)
  parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
  parser.add_argument("--log_every", type=int, default=1, help="print the losses every N steps (source: 1)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--check", action="store_true",
                      help="run one step and show which weights each update changed; exit 1 if wrong")
  parser.add_argument("--save", default="", help="save the generator here after training (.keras)")
  args = parser.parse_args(argv)
  cgan = SourceCGAN(load_real_samples(args.data_dir), args.variant, args.batch_size, args.seed,
                    args.d_batch or None)
  if args.check:
    check = check_updates(cgan)
    print(f"variant {args.variant}, batch {args.batch_size}, D batch {cgan.d_batch}, Keras {keras.__version__}\n")
    print(check.table())
    print("\nOK: D learns in both D updates, G alone in the combined update" if check.ok
          else "\nFAILED:\n  " + "\n  ".join(check.failures()))
    return 0 if check.ok else 1
  start = time.perf_counter()
  steps = cgan.train(args.epochs, args.steps, args.log_every)
  print(f"{steps} steps in {time.perf_counter() - start:.1f} s")
  if args.save:
    cgan.g_model.save(args.save)
  return 0


if __name__ == "__main__":
  sys.exit(main())
