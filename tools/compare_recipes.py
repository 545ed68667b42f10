"""Compares training recipes at an equal wall-clock budget on this machine (a measurement, not a test).

Each recipe trains in a fresh process for --minutes of training time (`--train_minutes`: evaluation during
training is not counted), then its last checkpoint is measured with `--mode=eval` (conditional accuracy,
Fréchet classifier distance overall and per class, KID, precision and recall overall and per class, CAS)
beside the real-data floor; the table's columns are the headline figures the report names (from the
metric registry). Recipes run one after another, never side by side, so each has the machine to itself.

  python tools/compare_recipes.py --minutes=15 --out=runs/compare
  python tools/compare_recipes.py --recipes=reference,projection_hinge_sn --minutes=5 --out=/tmp/cmp

A recipe is a flagfile from configs/ (by file name, e.g. configs/fmnist_cpu.cfg) or a name from RECIPES
below; extra flags after `--` go to every recipe.

With --fit the budget is counted in steps instead: each recipe first times a short probe run alone
(--probe_steps, in a fresh process), then trains rate x --minutes steps with no time limit. Its schedules
are fitted to that length (a --lr_schedule decays to zero at the budget's end, an --ema_start moves with
it, an --ema_decay keeps its horizon's share of the run), which a recipe stopped by the clock would not
get, and the training itself no longer depends on what else the machine runs: only the probe must run on a
quiet machine.

  python tools/compare_recipes.py --fit --recipes=configs/fmnist_resnet.cfg,configs/fmnist.cfg --minutes=60
"""

import argparse
import json
import os
import subprocess
import sys
import time

if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.benchmarks import common  # noqa: E402
from tools.benchmarks import training  # noqa: E402

REPO_ROOT = common.REPO_ROOT

# Each: flags on top of the common ones (Fashion-MNIST, cdcgan). Named after what they change.
RECIPES = {
    "reference": ["--batch_size=128"],
    "reference_b64": ["--batch_size=64"],
    "w64": ["--batch_size=64", "--g_filters=64", "--d_filters=64"],
    "w64_projection": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--d_conditioning=projection"],
    "w64_cbn_projection": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--g_conditioning=cbn",
                           "--d_conditioning=projection"],
    "w64_cbn_projection_hinge_sn": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--g_conditioning=cbn",
                                    "--d_conditioning=projection", "--loss=hinge", "--spectral_norm",
                                    "--beta_1=0.0", "--beta_2=0.9", "--g_learning_rate=1e-4",
                                    "--d_learning_rate=4e-4", "--d_dropout=0"],
    "w64_projection_ema995": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--d_conditioning=projection",
                              "--ema_decay=0.995"],
    "w64_projection_ema999": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--d_conditioning=projection",
                              "--ema_decay=0.999"],
    "w64_cbn_projection_ema995": ["--batch_size=64", "--g_filters=64", "--d_filters=64", "--g_conditioning=cbn",
                                  "--d_conditioning=projection", "--ema_decay=0.995"],
    "w32_projection_ema995": ["--batch_size=64", "--g_filters=32", "--d_filters=64", "--d_conditioning=projection",
                              "--ema_decay=0.995"],
    "w32_cbn_projection_ema995": ["--batch_size=64", "--g_filters=32", "--d_filters=64", "--g_conditioning=cbn",
                                  "--d_conditioning=projection", "--ema_decay=0.995"],
    "projection_r1_ema": ["--batch_size=64", "--d_conditioning=projection", "--r1_gamma=1", "--r1_every=4",
                          "--ema_decay=0.999"],
    "wgan_gp": ["--batch_size=64", "--loss=wasserstein", "--gp_weight=10", "--d_steps=5", "--beta_1=0.0",
                "--beta_2=0.9", "--g_learning_rate=1e-4", "--d_learning_rate=1e-4", "--d_dropout=0"],
    "diffaugment": ["--batch_size=64", "--diffaugment=translation,cutout", "--d_conditioning=projection"],
}
# A length no budget reaches: what a recipe trains for when the clock stops it.
UNBOUNDED_STEPS = 100000000
# The named recipes are flags over the reference recipe, which its preset spells out whatever the defaults.
COMMON = ["--flagfile=configs/fmnist_reference.cfg", f"--train_steps={UNBOUNDED_STEPS}", "--checkpoint_every=500",
          "--sample_every=500", "--log_every=100", "--verbose=0", "--keep_checkpoints=1"]


def recipe_flags(name: str) -> list:
  if name.endswith(".cfg"):
    return [f"--flagfile={name}"]
  if name not in RECIPES:
    sys.exit(f"--recipes: unknown {name!r}; known: {', '.join(RECIPES)} or a configs/*.cfg path")
  return COMMON + RECIPES[name]


def fitted_flags(steps_per_second: float, minutes: float, planned_steps: int, ema_start: int,
                 steps_per_execution: int = 1, ema_decay: float = 0.0) -> list:
  """Flags that make a recipe train the steps it makes in `minutes` at `steps_per_second`, its schedules
  fitted to them: the learning-rate decay runs over the new length, and the EMA's warm-up and horizon keep
  their shares of it (decay d over n planned steps becomes d ** (n / new length), the same fraction of the
  run in its average: a 0.999 average, about 1,000 steps, would otherwise still hold the weights of the
  run's early steps at the end of a 2,000-step run).

  Args:
    steps_per_second: the recipe's rate, timed alone.
    minutes: the budget.
    planned_steps: the recipe's own length in steps (its --train_steps, or its epochs in steps); 0 when it
      has none (the named recipes train until the clock stops them), and then its EMA settings are kept.
    ema_start: the recipe's --ema_start (0: none).
    steps_per_execution: the recipe's; the length is a multiple of it.
    ema_decay: the recipe's --ema_decay (0: no average).
  """
  steps = int(steps_per_second * minutes * 60) // steps_per_execution * steps_per_execution
  if steps <= 0:
    raise ValueError(f"{minutes:g} minutes at {steps_per_second:.3g} steps/s is not one step")
  flags = [f"--train_steps={steps}", "--train_minutes=0"]
  if ema_start and planned_steps:
    flags.append(f"--ema_start={round(ema_start * steps / planned_steps)}")
  if ema_decay and planned_steps:
    flags.append(f"--ema_decay={ema_decay ** (planned_steps / steps):.6g}")
  return flags


def probe(name: str, run_dir: str, args, extra: list) -> dict:
  """The recipe's steps/s over a short run alone in a fresh process, with its planned length and EMA
  settings. The probe trains in a temporary directory of its own; `run_dir` only completes the flags."""
  spec = dict(flags=[*recipe_flags(name), f"--run_dir={run_dir}", *extra], steps=args.probe_steps,
              warmup=args.probe_warmup, plan=True, name=name)
  return common.run_child(training.cgan_steps, spec)


def run(name: str, args, extra: list) -> dict:
  run_dir = os.path.join(args.out, os.path.basename(name).replace(".cfg", ""))
  budget = [f"--train_minutes={args.minutes}"]
  rate = None
  if args.fit:
    measured = probe(name, run_dir, args, extra)
    rate = measured["steps_per_second"]
    planned = 0 if measured["planned_steps"] == UNBOUNDED_STEPS else measured["planned_steps"]
    budget = fitted_flags(rate, args.minutes, planned, measured["ema_start"], measured["steps_per_execution"],
                          measured["ema_decay"])
  elif name.endswith(".cfg"):
    budget.append(f"--train_steps={UNBOUNDED_STEPS}")
  train = [sys.executable, "-m", "cgan_tf.main", *recipe_flags(name), f"--run_dir={run_dir}", *extra, *budget]
  if name.endswith(".cfg"):
    train.append("--verbose=0")
  if args.eval_every:
    train += [f"--eval_every={args.eval_every}", f"--train_eval_samples={args.curve_samples}",
              "--eval_metrics=conditional_accuracy,frechet"]
  start = time.time()
  log_path = run_dir + ".log"
  os.makedirs(args.out, exist_ok=True)
  with open(log_path, "w") as log:
    result = subprocess.run(train, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
  if result.returncode:
    sys.exit(f"recipe {name} failed (exit {result.returncode}); see {log_path}")
  wall = time.time() - start
  report_path = os.path.join(run_dir, "eval_report.json")
  evaluate = [sys.executable, "-m", "cgan_tf.main", "--mode=eval", f"--run_dir={run_dir}",
              f"--eval_samples={args.eval_samples}", f"--eval_report={report_path}"]
  with open(log_path, "a") as log:
    result = subprocess.run(evaluate, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
  if result.returncode:
    sys.exit(f"evaluating recipe {name} failed (exit {result.returncode}); see {log_path}")
  with open(report_path) as f:
    report = json.load(f)
  return dict(name=name, flags=" ".join(recipe_flags(name)[len(COMMON) if name in RECIPES else 0:]),
              budget=" ".join(budget), probe_steps_per_second=rate, step=report["step"],
              wall_seconds=round(wall), headline=report["headline"], generated=report["generated"],
              floor=report["real_train"])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated recipe names or flagfiles")
  parser.add_argument("--minutes", type=float, default=15.0, help="training minutes per recipe")
  parser.add_argument("--eval_samples", type=int, default=10000, help="images per final measurement")
  parser.add_argument("--eval_every", type=int, default=0, help="also measure every N steps during training "
                      "(conditional accuracy and Fréchet distance; not counted as training time)")
  parser.add_argument("--curve_samples", type=int, default=2000, help="images per measurement during training")
  parser.add_argument("--out", default="runs/compare", help="where the runs go")
  parser.add_argument("--fit", action="store_true", help="budget in steps: rate (timed alone) x --minutes, "
                      "schedules fitted to it (see above)")
  parser.add_argument("--probe_steps", type=int, default=40, help="--fit: steps of each probe, warm-up included")
  parser.add_argument("--probe_warmup", type=int, default=10, help="--fit: untimed first steps of each probe")
  args, extra = parser.parse_known_args()
  extra = [flag for flag in extra if flag != "--"]
  common.note_start()
  rows = []
  for name in args.recipes.split(","):
    rows.append(run(name, args, extra))
    print(json.dumps(rows[-1]), flush=True)
  print(f"\nMachine: {common.machine_at_start()}")
  print(f"Command: python {' '.join(sys.argv)}")
  if args.fit:
    print(f"Each recipe: the steps it makes in {args.minutes:g} minutes at its rate timed alone (steps "
          f"{args.probe_warmup + 1}-{args.probe_steps} of a probe in a fresh process; checkpoints, grids and "
          f"summaries off), its schedules fitted to them, then --mode=eval on {args.eval_samples} images (equal "
          f"per class) against the real test split.\n")
  else:
    print(f"Each recipe: {args.minutes:g} minutes of training alone on the machine, then --mode=eval on "
          f"{args.eval_samples} images (equal per class) against the real test split.\n")
  headline = rows[0]["headline"]  # Every recipe is measured by the same --mode=eval command.
  print("| recipe | probe steps/s | budget | steps | wall s | " + " | ".join(headline) + " |")
  print("|---|---:|---|---:|---:|" + "---:|" * len(headline))
  for row in rows:
    figures = " | ".join(f"{row['generated'].get(name, float('nan')):.4f}" for name in headline)
    rate = f"{row['probe_steps_per_second']:.3f}" if row["probe_steps_per_second"] else "-"
    print(f"| {row['name']} | {rate} | `{row['budget']}` | {row['step']} | {row['wall_seconds']} | {figures} |")
  floor = rows[0]["floor"]
  print("| real train images (floor) | | | | | "
        + " | ".join(f"{floor.get(name, float('nan')):.4f}" for name in headline) + " |")


if __name__ == "__main__":
  main()
