"""What the demo page says about the model: its metadata signature, and the evaluation report beside it.

An export carries no figures of its own; `tools/publish_pretrained.py` and `--mode=eval --eval_report=...`
write eval_report.json beside it (in the model directory, above the version) or into it. The page shows a
report only when its step is the export's, and otherwise says what it has.
"""

import datetime
import json
import os
from typing import Optional, Tuple

from cgan_tf.demo.model import ServedGenerator
from cgan_tf.run_dir import EVAL_REPORT_FILE


def find_eval_report(version_dir: str) -> Tuple[Optional[dict], str]:
  """(the report, its path) from the version directory or the model directory above it; (None, "") if none."""
  for directory in (version_dir, os.path.dirname(os.path.normpath(version_dir))):
    path = os.path.join(directory, EVAL_REPORT_FILE)
    if os.path.isfile(path):
      try:
        with open(path) as f:
          return json.load(f), path
      except (OSError, json.JSONDecodeError):
        continue
  return None, ""


def _figure(value) -> str:
  return f"{value:.4g}" if isinstance(value, (int, float)) else "—"


def evaluation_markdown(model: ServedGenerator) -> str:
  """The report's headline figures beside the real-data floor, or why there are none."""
  report, path = find_eval_report(model.version_dir)
  if report is None:
    return ("**Evaluation:** this export carries no evaluation report (no "
            f"`{EVAL_REPORT_FILE}` in it or beside it), so the page shows no quality figures. "
            f"`python -m cgan_tf.main --mode=eval --eval_source={model.version_dir} "
            f"--eval_report={os.path.join(model.version_dir, EVAL_REPORT_FILE)} "
            f"--dataset={model.description.get('config', {}).get('dataset', '...')}` measures it.")
  step = report.get("step")
  if step != model.training_step:
    return (f"**Evaluation:** `{path}` measures step {step}, not this export's step {model.training_step}; "
            "its figures are not shown.")
  generated, floor = report.get("generated", {}), report.get("real_train") or {}
  names = [name for name in report.get("headline") or sorted(generated) if name in generated]
  lines = [f"**Evaluation** (`{path}`: {report.get('eval_samples', '?')} samples against the "
           f"{report.get('reference', 'reference')}):", "",
           "| figure | generated | real train |", "|---|---|---|"]
  lines += [f"| {name} | {_figure(generated[name])} | {_figure(floor.get(name))} |" for name in names]
  return "\n".join(lines)


def markdown(model: ServedGenerator) -> str:
  """The model card: data set, classes, shapes, noise, step, weights, where it came from, and its figures."""
  description = model.description
  config = description.get("config", {})
  exported = description.get("exported_at_unix")
  when = (datetime.datetime.fromtimestamp(exported, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
          if isinstance(exported, (int, float)) else "unknown")
  classes = (", ".join(f"{index} {name}" for index, name in enumerate(model.class_names))
             if model.conditional else "none (an unconditional generator)")
  rows = [
      ("data set", config.get("dataset", "unknown")),
      ("training step", f"{model.training_step:,}"),
      ("weights", description.get("weights", "unknown")),
      ("network", config.get("network", "unknown")),
      ("classes", classes),
      ("image shape", " x ".join(str(size) for size in model.image_shape)),
      ("noise", f"{model.noise}, {model.latent_dim} dimensions"),
      ("max_batch", model.max_batch),
      ("exported", f"{when} by cgan_tf {description.get('cgan_tf_version', '?')}, TensorFlow "
                   f"{description.get('tensorflow_version', '?')}"),
      ("SavedModel", f"`{model.version_dir}`"),
  ]
  listing = [f"- **{name}:** {value}" for name, value in rows]
  return "\n".join(listing) + "\n\n" + evaluation_markdown(model)
