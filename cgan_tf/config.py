"""The run configuration: one frozen dataclass and its JSON form (what a run directory's config.json holds).

The defaults are the recommended recipe: a run given only its data trains what measured best on
Fashion-MNIST (docs/results.md), with the networks sized to the data set's images and the length counted
in images shown, so a small folder and a large data set both train as long as the recipe did. The
presets in configs/ spell out every flag their recipe needs, so a change of default never changes one.

A leaf: it imports nothing of the package. Every enumeration a field takes has an owner, the module that
acts on it; `cgan_tf/validation.py` checks a configuration against those owners.
"""

import dataclasses
import json
from typing import Optional, Tuple


# The fields that name files or directories of the machine a run was made on: a published artifact (an
# export's metadata, an evaluation report) carries the configuration without them.
PATH_FIELDS = ("run_dir", "data_dir", "tfds_data_dir", "output_dir", "export_dir", "evaluator_dir", "eval_report")


class ConfigError(ValueError):
  """A configuration value is invalid; the message names the flag and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything a run needs, resolved from flags. Immutable once built."""

  mode: str = "train"
  run_dir: str = ""
  # Data.
  dataset: str = "fashion_mnist"
  data_source: str = "auto"
  data_dir: str = ""  # Empty: the data set's system copy, if it has one (cgan_tf/data/idx.py).
  tfds_data_dir: Optional[str] = None
  # Your own images (--data_source=folder or npz): size, channels, held-out split, bad files.
  image_size: int = 0
  channels: int = 0
  resize_mode: str = "crop"
  holdout_fraction: float = 0.1
  allow_single_class: bool = False
  bad_images: str = "error"
  # Filled in from the data set's metadata when left empty.
  image_shape: Tuple[int, int, int] = ()
  num_classes: int = 0
  class_names: Tuple[str, ...] = ()
  # Networks and losses.
  network: str = "cdcgan"
  loss: str = "nonsaturating"
  latent_dim: int = 100
  embedding_dim: int = 50
  g_filters: int = 64
  d_filters: int = 64
  d_dropout: float = 0.4
  unconditional: bool = False
  g_conditioning: str = "auto"
  d_conditioning: str = "projection"
  spectral_norm: bool = False
  d_minibatch_std: int = 0
  image_conv: str = "auto"
  noise: str = "normal"
  gp_weight: float = 0.0
  r1_gamma: float = 0.0
  r1_every: int = 1
  mode_seeking: float = 0.0
  diffaugment: str = ""
  ema_decay: float = 0.995
  ema_start: int = 0
  # Optimisation.
  optimizer: str = "adam"
  update_scheme: str = "alternating"
  d_steps: int = 1
  batch_size: int = 64
  # The length: --train_steps if set, else --epochs if set, else --train_images (real images D sees).
  epochs: int = 0
  train_steps: int = 0
  train_images: int = 1_200_000  # 20 epochs of Fashion-MNIST's 60,000: the recipe's length.
  train_minutes: float = 0.0
  g_learning_rate: float = 2e-4
  d_learning_rate: float = 2e-4
  lr_schedule: str = "constant"
  beta_1: float = 0.5
  beta_2: float = 0.999
  seed: int = 0
  deterministic: bool = False
  # Scale.
  strategy: str = "auto"
  num_cpu_devices: int = 0
  precision: str = "auto"
  xla: str = "auto"
  steps_per_execution: int = 1
  # Bookkeeping.
  checkpoint_every: int = 1000
  keep_checkpoints: int = 3
  sample_every: int = 500
  samples_per_class: int = 10
  log_every: int = 100
  verbose: int = 1
  # Sample mode.
  label: int = -1
  num_images: int = 16
  output_dir: str = ""
  # Export mode (TF Serving layout: <export_dir>/<model_name>/<version>/).
  export_dir: str = ""
  model_name: str = "cgan"
  export_version: int = 0
  export_next_free_version: bool = False
  max_batch: int = 1024
  export_source: str = "auto"
  # Demo mode (a local page over an export in --export_dir).
  demo_port: int = 7860
  # Measuring (--mode=train_evaluator, --mode=eval, and --eval_every during training).
  evaluator_dir: str = "~/.cache/cgan_tf/evaluators"
  evaluator_epochs: int = 5
  eval_every: int = 1000
  eval_samples: int = 10000  # --mode=eval's.
  train_eval_samples: int = 2000  # Each measurement during training (--eval_every).
  eval_metrics: str = ("conditional_accuracy,unrecognised,frechet,intra_frechet,kid,precision_recall,"
                       "intra_precision_recall,cas")
  eval_seed: int = 0
  eval_source: str = "checkpoint"
  eval_report: str = ""
  cas_epochs: int = 10
  keep_best: bool = True
  # Watching a run and sampling from it.
  progress_seconds: float = 10.0
  interpolate: int = 0
  truncation: float = 0.0

  @property
  def diffaugment_policies(self) -> Tuple[str, ...]:
    return tuple(name for name in self.diffaugment.split(",") if name)

  def replace(self, **changes) -> "Config":
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def without_paths(self) -> "Config":
    """The configuration with every field that names a local file or directory emptied (PATH_FIELDS, and
    --eval_source when it is a path, not a word such as 'checkpoint'), to publish with an artifact."""
    changes = {name: ("" if name != "tfds_data_dir" else None) for name in PATH_FIELDS}
    if "/" in self.eval_source or "\\" in self.eval_source:
      changes["eval_source"] = ""
    return self.replace(**changes)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, values: dict) -> "Config":
    """The configuration `values` (a `to_dict` result) describe.

    Raises:
      ConfigError: if `values` is not a mapping of known field names.
    """
    if not isinstance(values, dict):
      raise ConfigError(f"a configuration is a JSON object of fields, got {type(values).__name__} "
                        f"{json.dumps(values)[:60]}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
      raise ConfigError(f"unknown configuration keys: {', '.join(unknown)}")
    values = dict(values)
    for key in ("image_shape", "class_names"):
      if key in values and values[key] is not None:
        values[key] = tuple(values[key])
    return cls(**values)

  @classmethod
  def from_json(cls, text: str) -> "Config":
    """The configuration `to_json` wrote.

    Raises:
      json.JSONDecodeError: if `text` is not JSON.
      ConfigError: if it is JSON but not a configuration.
    """
    return cls.from_dict(json.loads(text))
