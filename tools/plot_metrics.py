"""Draws a run's metrics over training steps to a PNG, the real-data floor as a dashed line.

  python tools/plot_metrics.py --metrics=runs/fmnist/metrics.jsonl --output=runs/fmnist/metrics.png
  python tools/plot_metrics.py ... --steps_per_second=6.3   # a second axis: training minutes at that rate
  python tools/plot_metrics.py --metrics=runs/a/metrics.jsonl --metrics=runs/b/metrics.jsonl \
      --labels="seed 0,seed 1" --output=seeds.png           # several runs (seeds, recipes) on one axis

Reads the `metrics.jsonl` that `--eval_every` appends to (cgan_tf/evaluation/callback.py): "generated"
lines become the curves, the last "real_train" line the floor. Drawn with Pillow alone, so it runs
wherever the package does (matplotlib is not a dependency).
"""

import argparse
import json
import math
import sys

from PIL import Image, ImageDraw, ImageFont

# (key in metrics.jsonl, panel title). ASCII titles: the built-in font has no accented letters.
PANELS = (
    ("conditional_accuracy", "conditional accuracy (higher is better)"),
    ("frechet_distance", "Frechet classifier distance (lower is better)"),
    ("intra_frechet_distance", "intra-class Frechet distance (lower is better)"),
    ("kid", "KID (lower is better)"),
    ("precision", "precision: fidelity (higher is better)"),
    ("recall", "recall: diversity (higher is better)"),
    ("cas", "classification accuracy score (higher is better)"),
)
PANEL_W, PANEL_H, COLUMNS = 520, 340, 2
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 34, 36, 46
FLOOR, AXIS, GRID = (214, 39, 40), (40, 40, 40), (225, 225, 225)
# One colour per run, in --metrics order (the floor's red is not among them).
CURVES = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75), (23, 190, 207))


def read_metrics(path: str):
  """Returns (generated records sorted by step, the last real_train record or None)."""
  generated, floor = {}, None
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{number}: not JSON ({e})") from e
      if record.get("source") == "real_train":
        floor = record
      elif record.get("source") == "generated":
        generated[record["step"]] = record  # A resumed run re-measuring a step replaces the old line.
  return [generated[step] for step in sorted(generated)], floor


def font(size: int):
  """Pillow's default font at `size` pixels (the tools' one font: this and tools/make_gallery.py)."""
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow < 10.1 has only the small bitmap font.
    return ImageFont.load_default()


def _ticks(low: float, high: float, count: int = 5):
  """About `count` round tick values covering [low, high]."""
  if high <= low:
    high = low + (abs(low) or 1.0) * 0.1
  raw = (high - low) / count
  magnitude = 10 ** math.floor(math.log10(raw))
  step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
  first = math.floor(low / step) * step
  return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


def _label(value: float) -> str:
  if value == 0:
    return "0"
  if abs(value) >= 1000:
    return f"{value / 1000:g}k"
  return f"{value:.4g}"


def draw_panel(draw: ImageDraw.ImageDraw, left: int, top: int, title: str, series, floor_value,
               steps_per_second: float = 0.0):
  """One metric: axes with ticks, each run's curve with markers, the floor line, a title and a legend.

  `series`: (label, steps, values) per run, drawn in CURVES' colours; with `steps_per_second`, each step
  tick also shows the training minutes it takes at that rate.
  """
  large, small = font(14), font(11)
  x0, y0 = left + MARGIN_L, top + MARGIN_T
  x1, y1 = left + PANEL_W - MARGIN_R, top + PANEL_H - MARGIN_B
  draw.text((left + MARGIN_L, top + 8), title, fill=AXIS, font=large)
  known = [v for _, _, values in series for v in values if v is not None and math.isfinite(v)]
  span = known + ([floor_value] if floor_value is not None else [])
  if not known:
    draw.text((x0 + 10, (y0 + y1) // 2), "not measured", fill=AXIS, font=large)
    return
  steps = [s for _, run_steps, _ in series for s in run_steps]
  y_ticks = _ticks(min(span), max(span))
  x_ticks = _ticks(min(steps), max(steps)) if len(set(steps)) > 1 else [steps[0] - 1, steps[0], steps[0] + 1]
  x_lo, x_hi, y_lo, y_hi = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
  to_x = lambda s: x0 + (s - x_lo) / (x_hi - x_lo) * (x1 - x0)  # noqa: E731
  to_y = lambda v: y1 - (v - y_lo) / (y_hi - y_lo) * (y1 - y0)  # noqa: E731
  for tick in y_ticks:
    y = to_y(tick)
    draw.line([(x0, y), (x1, y)], fill=GRID)
    draw.text((x0 - 6, y), _label(tick), fill=AXIS, font=small, anchor="rm")
  for tick in x_ticks:
    x = to_x(tick)
    draw.line([(x, y1), (x, y1 + 4)], fill=AXIS)
    label = _label(tick)
    if steps_per_second:
      label += f" ({tick / steps_per_second / 60:.0f}m)"
    draw.text((x, y1 + 6), label, fill=AXIS, font=small, anchor="mt")
  draw.rectangle([x0, y0, x1, y1], outline=AXIS)
  axis = "training step" + (f" (training minutes at {steps_per_second:g} steps/s)" if steps_per_second else "")
  draw.text(((x0 + x1) // 2, y1 + 24), axis, fill=AXIS, font=small, anchor="mt")
  if floor_value is not None:
    y = to_y(floor_value)
    for x in range(x0, x1, 12):  # Dashed.
      draw.line([(x, y), (min(x + 7, x1), y)], fill=FLOOR, width=2)
  legend = []
  for index, (label, run_steps, values) in enumerate(series):
    colour = CURVES[index % len(CURVES)]
    points = [(to_x(s), to_y(v)) for s, v in zip(run_steps, values) if v is not None and math.isfinite(v)]
    if len(points) > 1:
      draw.line(points, fill=colour, width=2)
    for x, y in points:
      draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    legend.append((colour, label))
  if floor_value is not None:
    legend.append((FLOOR, f"real train {_label(floor_value)}"))
  for row, (colour, label) in enumerate(legend):
    y = y0 + 8 + 16 * row
    draw.line([(x1 - 150, y), (x1 - 128, y)], fill=colour, width=2)
    draw.text((x1 - 122, y), label, fill=AXIS, font=small, anchor="lm")


def plot(metrics_paths, output_path: str, title: str = "", steps_per_second: float = 0.0, labels=None) -> str:
  """Draws every metric present in the runs' metrics.jsonl files into one PNG at `output_path`.

  `metrics_paths`: one path or a list (several runs on the same axes, e.g. seeds); `labels` names them in
  the legend (default "generated" for one run, else each path). The floor is the first run's that has
  one. `steps_per_second` (a rate measured separately, e.g. the preset's) labels each step with its training
  minutes; metrics.jsonl's wall-clock times include evaluations and any pause before a resume.

  Returns:
    `output_path`.

  Raises:
    ValueError: if a file holds no generated measurements, or the labels do not match the files.
  """
  paths = [metrics_paths] if isinstance(metrics_paths, str) else list(metrics_paths)
  labels = list(labels) if labels else (["generated"] if len(paths) == 1 else paths)
  if len(labels) != len(paths):
    raise ValueError(f"{len(labels)} labels for {len(paths)} metrics files")
  runs, floor = [], None
  for path in paths:
    generated, run_floor = read_metrics(path)
    if not generated:
      raise ValueError(f"{path} holds no measurements of generated images")
    runs.append(generated)
    floor = floor or run_floor
  panels = [(key, name) for key, name in PANELS if any(key in record for run in runs for record in run)]
  rows = math.ceil(len(panels) / COLUMNS)
  header = 34
  image = Image.new("RGB", (COLUMNS * PANEL_W, rows * PANEL_H + header), "white")
  draw = ImageDraw.Draw(image)
  draw.text((12, 8), title or ", ".join(paths), fill=AXIS, font=font(16))
  for index, (key, name) in enumerate(panels):
    row, column = divmod(index, COLUMNS)
    series = [(label, [record["step"] for record in run], [record.get(key) for record in run])
              for label, run in zip(labels, runs)]
    draw_panel(draw, column * PANEL_W, header + row * PANEL_H, name, series, floor.get(key) if floor else None,
               steps_per_second)
  image.save(output_path)
  return output_path


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--metrics", required=True, action="append",
                      help="metrics.jsonl written by --eval_every; repeat it to draw several runs together")
  parser.add_argument("--labels", default="", help="comma-separated legend names, one per --metrics")
  parser.add_argument("--output", required=True, help="PNG to write")
  parser.add_argument("--title", default="", help="heading (default: the metrics path)")
  parser.add_argument("--steps_per_second", type=float, default=0.0,
                      help="a measured training rate: label the steps with training minutes at it (0: off)")
  args = parser.parse_args(argv)
  if args.steps_per_second < 0:
    parser.error(f"--steps_per_second must be >= 0, got {args.steps_per_second}")
  try:
    labels = args.labels.split(",") if args.labels else None
    print(plot(args.metrics, args.output, args.title, args.steps_per_second, labels))
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
