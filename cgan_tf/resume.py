"""What a resumed run may change: every configuration field is "must match", "may change" or "free".

- must match: the checkpoint's state is laid out by it (the networks' variables, the optimizers' slots)
  or means something only with it (the data set, what each label stands for). A change is refused,
  naming the flag, the run's value and the way out.
- may change: the state restores as it is and training continues under the new value; every change is
  logged when the run resumes. Some of these refuse one kind of change (a moving average turned on or off).
- free: where outputs go and how often, how the run is watched, the other modes' options: not logged.

`RULES` is the one table: `check_resumable` applies it, `markdown_table` prints it for the docs
(`python -m cgan_tf.resume`), and a test walks every `Config` field through it, so a new field without a
row fails.
"""

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from cgan_tf.config import Config, ConfigError

MUST_MATCH = "must match"
MAY_CHANGE = "may change"
FREE = "free"
KINDS = (MUST_MATCH, MAY_CHANGE, FREE)


@dataclasses.dataclass(frozen=True)
class Rule:
  """How one field may differ between a run directory's config.json and a run that resumes it.

  Attributes:
    kind: MUST_MATCH, MAY_CHANGE or FREE.
    why: the reason, in the words the docs' table shows.
    refused: for MAY_CHANGE, the changes that are refused after all: (saved, new) -> a message naming
      the flag and the way out, or None when the change is fine.
    except_words: the docs' words for `refused`.
    way_out: for MUST_MATCH, how to resume instead; empty: rerun with --<field>=<the run's value>.
    flag: the flag a refusal starts with, for fields that are no flag (filled in from the data); empty:
      --<field>.
  """

  kind: str
  why: str
  refused: Optional[Callable[[Config, Config], Optional[str]]] = None
  except_words: str = ""
  way_out: str = ""
  flag: str = ""


def _rows(kind: str, names: Sequence[str], why: str, **options) -> Dict[str, Rule]:
  return {name: Rule(kind, why, **options) for name in names}


def _ema_switch(saved: Config, config: Config) -> Optional[str]:
  if (saved.ema_decay > 0) == (config.ema_decay > 0):
    return None
  return (f"--ema_decay: {config.run_dir} holds a run {'with' if saved.ema_decay else 'without'} a moving "
          f"average of the generator, this run has --ema_decay={config.ema_decay}; its checkpoints cannot be "
          f"resumed that way (they hold the average, or not). Rerun with "
          f"{'--ema_decay=' + str(saved.ema_decay) if saved.ema_decay else '--ema_decay=0'}, or use a new "
          f"--run_dir.")


def _schedule_switch(saved: Config, config: Config) -> Optional[str]:
  # A constant rate is an optimizer variable in the checkpoint, a schedule is not, so the optimizers'
  # saved state lines up with one layout only. Between linear and cosine a run continues.
  if (saved.lr_schedule == "constant") == (config.lr_schedule == "constant"):
    return None
  return (f"--lr_schedule: {config.run_dir} holds a run with --lr_schedule={saved.lr_schedule}, this run has "
          f"--lr_schedule={config.lr_schedule}; a constant learning rate and a decaying one keep different "
          f"optimizer state, so its checkpoints cannot be resumed that way. Rerun with "
          f"--lr_schedule={saved.lr_schedule}, or use a new --run_dir.")


def _float64_switch(saved: Config, config: Config) -> Optional[str]:
  # Every precision but float64 keeps float32 weights (auto never picks float64), so those continue one
  # another; float64 weights cannot continue in float32 or back without changing the trained values.
  if (saved.precision == "float64") == (config.precision == "float64"):
    return None
  return (f"--precision: {config.run_dir} holds a run with --precision={saved.precision}, this run has "
          f"--precision={config.precision}; float64 weights continue only in float64, and float32 ones only "
          f"outside it. Rerun with --precision={saved.precision}, or use a new --run_dir.")


_DATA = "the data the generator learns: its images' shape, its classes and what each label means"
_DATA_WAY_OUT = ("resume it on the data it was trained on (--dataset, --data_dir, --image_size, --channels), "
                 "or use a new --run_dir")

RULES: Dict[str, Rule] = {
    # Must match.
    **_rows(MUST_MATCH, ("network", "latent_dim", "embedding_dim", "g_filters", "d_filters", "unconditional",
                         "g_conditioning", "d_conditioning", "spectral_norm", "d_minibatch_std", "image_conv"),
            "they shape the networks' variables: the checkpoints would not load into other networks"),
    "dataset": Rule(MUST_MATCH, _DATA, way_out=_DATA_WAY_OUT),
    # Filled in from the data, so the refusal names the run directory rather than a flag.
    **_rows(MUST_MATCH, ("image_shape", "num_classes", "class_names"), _DATA, way_out=_DATA_WAY_OUT,
            flag="run_dir"),
    "optimizer": Rule(MUST_MATCH, "each optimizer keeps its own slots (Adam two moments per weight, RMSprop "
                      "one): the optimizer state would not load"),
    # May change, with exceptions.
    "ema_decay": Rule(MAY_CHANGE, "the average's decay from here on", refused=_ema_switch,
                      except_words="turning the moving average on or off (the checkpoints hold it or not)"),
    "lr_schedule": Rule(MAY_CHANGE, "the learning rates from here on", refused=_schedule_switch,
                        except_words="between `constant` and a decay (they keep different optimizer state)"),
    "precision": Rule(MAY_CHANGE, "how the step computes; the weights and optimizer moments carry over (a "
                      "fresh loss scale)", refused=_float64_switch,
                      except_words="to or from `float64` (float64 weights continue only in float64)"),
    # May change.
    **_rows(MAY_CHANGE, ("loss", "update_scheme", "d_steps", "gp_weight", "r1_gamma", "r1_every", "diffaugment",
                         "ema_start", "noise", "d_dropout", "mode_seeking"),
            "the recipe from here on: the state restores as it is and trains on under the new value"),
    **_rows(MAY_CHANGE, ("g_learning_rate", "d_learning_rate", "beta_1", "beta_2", "batch_size", "epochs",
                         "train_steps", "train_images", "seed", "deterministic"),
            "how training continues from the restored state (the flags' learning rates replace the "
            "checkpoint's; the length sets where a decay ends)"),
    **_rows(MAY_CHANGE, ("data_source", "data_dir", "tfds_data_dir", "image_size", "channels", "resize_mode",
                         "holdout_fraction", "bad_images"),
            "where the data is read and how it is decoded: it may move; its shape and classes must match"),
    **_rows(MAY_CHANGE, ("strategy", "num_cpu_devices", "xla", "steps_per_execution"),
            "how each step runs: a run continues on other hardware"),
    # Free.
    **_rows(FREE, ("mode", "run_dir", "checkpoint_every", "keep_checkpoints", "sample_every", "samples_per_class",
                   "log_every", "verbose", "progress_seconds", "train_minutes", "allow_single_class"),
            "outputs, how often they are written and how the run is watched (--train_minutes budgets each "
            "process; --allow_single_class only permits data, whose classes must match)"),
    **_rows(FREE, ("evaluator_dir", "evaluator_epochs", "eval_every", "eval_samples", "eval_metrics", "eval_seed",
                   "eval_source", "eval_report", "cas_epochs", "keep_best", "train_eval_samples"),
            "measuring: each line of metrics.jsonl records its step and figures"),
    **_rows(FREE, ("label", "num_images", "output_dir", "interpolate", "truncation", "export_dir", "model_name",
                   "export_version", "export_next_free_version", "max_batch", "export_source", "demo_port"),
            "the sample, export and demo modes' options, which training does not read"),
}


def _shown(value) -> str:
  return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def check_resumable(saved: Config, config: Config) -> List[Tuple[str, object, object]]:
  """Checks a run that resumes the run directory whose config.json holds `saved`.

  Args:
    saved: the configuration the directory's run was trained with.
    config: this run's resolved configuration (data-dependent fields filled in).

  Returns:
    The allowed changes of "may change" fields, as (field, saved value, new value), for the resume's log.

  Raises:
    ConfigError: for the first refused change, naming its flag, the run's value and the way out.
  """
  changes = []
  for name, rule in RULES.items():
    before, after = getattr(saved, name), getattr(config, name)
    if before == after or rule.kind == FREE:
      continue
    if rule.kind == MUST_MATCH:
      way_out = rule.way_out or f"rerun with --{name}={_shown(before)}, or use a new --run_dir"
      raise ConfigError(
          f"--{rule.flag or name}: {config.run_dir} holds a run with {name}={before!r}, but this run has "
          f"{name}={after!r}; its checkpoints cannot be resumed ({rule.why}). To continue it, {way_out}.")
    message = rule.refused(saved, config) if rule.refused else None
    if message:
      raise ConfigError(message)
    changes.append((name, before, after))
  return changes


def describe_changes(changes) -> str:
  """The changes `check_resumable` returned, as one line for the log."""
  return "; ".join(f"--{name}: {_shown(before)} -> {_shown(after)}" for name, before, after in changes)


def markdown_table() -> str:
  """The table as the docs show it: one row per reason, its fields in the code's order."""
  groups = {}
  for name, rule in RULES.items():
    groups.setdefault((rule.kind, rule.why, rule.except_words), []).append(name)
  lines = ["| On resume | Fields | Why |", "|---|---|---|"]
  for (kind, why, except_words), names in groups.items():
    label = f"{kind}, except {except_words}: refused" if except_words else kind
    if kind == MAY_CHANGE:
      label += " (logged)" if not except_words else "; other changes logged"
    lines.append(f"| {label} | {', '.join(f'`{name}`' for name in names)} | {why} |")
  return "\n".join(lines)


if __name__ == "__main__":
  print(markdown_table())
