"""The demo page: a Gradio app on 127.0.0.1 over a `ServedGenerator`; every handler answers bad input with a
message on the page (never a traceback).

The images the page shows and offers for download are the PNG bytes the SavedModel itself encoded
(`images_png_bytes`), written to files unchanged, so what the page shows is what TF Serving would return.
"""

import io
import logging as std_logging
import os
import shutil
import socket
import tempfile
import zipfile
from typing import List, Optional

from absl import logging
import numpy as np

from cgan_tf import samples
from cgan_tf.config import ConfigError
from cgan_tf.demo import model_card
from cgan_tf.demo.model import InputError, ServedGenerator, parse_truncation, png_names, tiled_shape

# Unless told not to, Gradio sends usage reports and asks for its newest version when it starts (it looks up
# api.gradio.app and huggingface.co); the page needs nothing beyond the loopback. Set before gradio is
# imported, which reads it then; a user who sets it keeps their choice.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  pylint: disable=wrong-import-position,g-import-not-at-top

# Gradio polls its own server with httpx while it starts, and every poll would be a log line.
std_logging.getLogger("httpx").setLevel(std_logging.WARNING)

HOST = "127.0.0.1"
KEPT_REQUESTS = 32  # Answers whose files stay on disk; older ones are deleted.
CACHE_SECONDS = 3600
DEFAULT_COUNT = 8
DEFAULT_COLUMNS = 8
DEFAULT_STEPS = 16
MAX_TRUNCATION = 3.0
# The images are small (28 x 28 for Fashion-MNIST); shown larger, each pixel stays a sharp square.
CSS = "#images img, #grid img, #path-image img, #path-strip img { image-rendering: pixelated; }"


class Answers:
  """A private directory for the PNG files of each answer, the oldest deleted past KEPT_REQUESTS."""

  def __init__(self):
    self.root = tempfile.mkdtemp(prefix="cgan_tf_demo-")
    self.made: List[str] = []

  def new(self) -> str:
    directory = tempfile.mkdtemp(dir=self.root)
    self.made.append(directory)
    while len(self.made) > KEPT_REQUESTS:
      shutil.rmtree(self.made.pop(0), ignore_errors=True)
    return directory

  def write(self, directory: str, names: List[str], pngs: List[bytes]) -> List[str]:
    paths = []
    for name, png in zip(names, pngs):
      path = os.path.join(directory, name)
      with open(path, "wb") as f:
        f.write(png)
      paths.append(path)
    return paths

  def zipped(self, directory: str, name: str, paths: List[str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already.
      for path in paths:
        archive.write(path, os.path.basename(path))
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
      f.write(buffer.getvalue())
    return path

  def close(self):
    shutil.rmtree(self.root, ignore_errors=True)


def _error(exception: Exception) -> str:
  if isinstance(exception, InputError):
    return f"**Cannot draw this:** {exception}"
  # Anything else is a bug or a broken model; the console gets the traceback, the page one line.
  logging.exception("demo request failed")
  first_line = str(exception).splitlines()[0] if str(exception) else ""
  return f"**The request failed:** {type(exception).__name__}: {first_line}"


def _tile(images, columns: Optional[int] = None):
  """uint8 [n, H, W, C] -> one image, near-square (or `columns` wide), padded with white."""
  count = len(images)
  rows, columns = (-(-count // columns), columns) if columns else tiled_shape(count)
  blank = np.full((rows * columns - count,) + images.shape[1:], 255, np.uint8)
  return samples.tile(np.concatenate([images, blank]), rows, columns)


class Handlers:
  """What each button does: parse the page's text, ask the model, write its PNGs; a message for bad input."""

  def __init__(self, model: ServedGenerator, answers: Answers):
    self.model = model
    self.answers = answers

  def one_class(self, label_value, seed_text, count_text, truncation):
    """-> (gallery items, download paths, message)."""
    model = self.model
    try:
      label, seed = model.parse_class(label_value), model.parse_seed(seed_text)
      count, psi = model.parse_count(count_text), parse_truncation(truncation)
      images, pngs = model.class_images(label, count, seed, psi)
      directory = self.answers.new()
      stem = f"class{label}_seed{seed}" if label >= 0 else f"seed{seed}"
      paths = self.answers.write(directory, png_names(label, count), pngs)
      grid_path = os.path.join(directory, f"{stem}_grid.png")
      samples.write_png(_tile(images), grid_path)
      seed_pair = f"[{seed}, {max(label, 0)}]"
      how = (f"serving_seeded(seed={seed_pair})" if not psi else
             f"serving_latent(noise=rng.truncated_latent(seed={seed_pair}, truncation={psi:g}))")
      gallery = [(path, f"{model.class_label(label)} {index}") for index, path in enumerate(paths)]
      return (gallery, [grid_path, self.answers.zipped(directory, f"{stem}.zip", paths)],
              f"{count} image(s) of {model.class_label(label)}, seed {seed}: `{how}`")
    except Exception as e:  # pylint: disable=broad-except
      return None, None, _error(e)

  def every_class(self, seed_text, columns_text, truncation):
    """-> (the grid's path, download paths, message)."""
    model = self.model
    try:
      seed, columns = model.parse_seed(seed_text), model.parse_count(columns_text, "images per class")
      psi = parse_truncation(truncation)
      grid, pngs = model.class_grid(columns, seed, psi)
      directory = self.answers.new()
      paths = []
      for row, row_pngs in enumerate(pngs):
        paths += self.answers.write(directory, png_names(row if model.conditional else -1, columns), row_pngs)
      grid_path = os.path.join(directory, f"every_class_seed{seed}.png")
      samples.write_png(samples.tile(grid.reshape((-1,) + grid.shape[2:]), grid.shape[0], columns), grid_path)
      message = (f"Row k is class k with seed [{seed}, k], {columns} per row"
                 + (f", truncation {psi:g}" if psi else ""))
      return grid_path, [grid_path, self.answers.zipped(directory, f"every_class_seed{seed}.zip", paths)], message
    except Exception as e:  # pylint: disable=broad-except
      return None, None, _error(e)

  def interpolate(self, label_value, start_text, end_text, steps_text, truncation):
    """-> (the frame slider, the first frame, the strip, download paths, every frame's path, message)."""
    model = self.model
    try:
      label, start, end = model.parse_class(label_value), model.parse_seed(start_text), model.parse_seed(end_text)
      steps, psi = model.parse_count(steps_text, "frames", low=2), parse_truncation(truncation)
      images, pngs = model.interpolation(label, start, end, steps, psi)
      directory = self.answers.new()
      stem = f"class{label}_seeds{start}-{end}" if label >= 0 else f"seeds{start}-{end}"
      paths = self.answers.write(directory, png_names(label, steps, prefix=stem), pngs)
      strip_path = os.path.join(directory, f"{stem}_strip.png")
      samples.write_png(_tile(images, columns=steps), strip_path)
      kind = "spherical" if model.noise == "normal" else "straight"
      message = (f"{steps} points of {model.class_label(label)} on the {kind} path from seed {start} to seed "
                 f"{end} ({model.noise} noise)" + (f", truncation {psi:g}" if psi else ""))
      return (gr.Slider(minimum=0, maximum=steps - 1, value=0, step=1), paths[0], strip_path,
              [strip_path, self.answers.zipped(directory, f"{stem}.zip", paths)], paths, message)
    except Exception as e:  # pylint: disable=broad-except
      return gr.Slider(), None, None, None, [], _error(e)

  @staticmethod
  def show_frame(index, paths):
    """The frame the slider points at."""
    return paths[min(max(int(index), 0), len(paths) - 1)] if paths else None


def _class_input(model: ServedGenerator, elem_id: str):
  if not model.conditional:
    return gr.Textbox(value="unconditional", label="class", interactive=False, elem_id=elem_id)
  choices = [(f"{index}: {name}", index) for index, name in enumerate(model.class_names)]
  # Typed values are allowed so that a class can be named by index; parse_class answers a wrong one.
  return gr.Dropdown(choices=choices, value=0, label="class (a name or an index)", allow_custom_value=True,
                     elem_id=elem_id)


def _truncation_input(elem_id: str):
  return gr.Slider(0.0, MAX_TRUNCATION, value=0.0, step=0.05, label="truncation psi (0: off)", elem_id=elem_id)


def _count_input(model: ServedGenerator, label: str, default: int, elem_id: str, low: int = 1):
  return gr.Textbox(value=str(min(default, model.max_batch)), label=f"{label} ({low} to {model.max_batch})",
                    elem_id=elem_id)


def _one_class_tab(model: ServedGenerator, handlers: Handlers):
  with gr.Row():
    inputs = [_class_input(model, "class"), gr.Textbox(value="0", label="seed", elem_id="seed"),
              _count_input(model, "count", DEFAULT_COUNT, "count"), _truncation_input("truncation")]
  button = gr.Button("Generate", variant="primary", elem_id="generate")
  message = gr.Markdown(elem_id="class-message")
  gallery = gr.Gallery(label="images", columns=8, object_fit="contain", height="auto", elem_id="images")
  downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="downloads")
  button.click(handlers.one_class, inputs, [gallery, downloads, message])


def _every_class_tab(model: ServedGenerator, handlers: Handlers):
  with gr.Row():
    inputs = [gr.Textbox(value="0", label="seed", elem_id="grid-seed"),
              _count_input(model, "images per class", DEFAULT_COLUMNS, "grid-columns"),
              _truncation_input("grid-truncation")]
  button = gr.Button("Generate the grid", variant="primary", elem_id="grid-generate")
  message = gr.Markdown(elem_id="grid-message")
  grid = gr.Image(label="every class", type="filepath", format="png", interactive=False, elem_id="grid")
  downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="grid-downloads")
  button.click(handlers.every_class, inputs, [grid, downloads, message])


def _interpolation_tab(model: ServedGenerator, handlers: Handlers):
  with gr.Row():
    inputs = [_class_input(model, "path-class"), gr.Textbox(value="0", label="from seed", elem_id="path-start"),
              gr.Textbox(value="1", label="to seed", elem_id="path-end"),
              _count_input(model, "frames", DEFAULT_STEPS, "path-steps", low=2), _truncation_input("path-truncation")]
  button = gr.Button("Interpolate", variant="primary", elem_id="path-generate")
  message = gr.Markdown(elem_id="path-message")
  frame = gr.Slider(0, DEFAULT_STEPS - 1, value=0, step=1, label="point on the path", elem_id="path-frame")
  frame_image = gr.Image(label="frame", type="filepath", format="png", interactive=False, elem_id="path-image")
  strip = gr.Image(label="the whole path", type="filepath", format="png", interactive=False, elem_id="path-strip")
  downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="path-downloads")
  frame_paths = gr.State([])
  button.click(handlers.interpolate, inputs, [frame, frame_image, strip, downloads, frame_paths, message])
  frame.change(handlers.show_frame, [frame, frame_paths], [frame_image])


def build(model: ServedGenerator, answers: Answers) -> gr.Blocks:
  """The page: three views on the left, what the model is on the right."""
  handlers = Handlers(model, answers)
  dataset = model.description.get("config", {}).get("dataset", "generator")
  # Gradio copies every file it shows into its own cache; copies an hour old are deleted.
  with gr.Blocks(title=f"cgan_tf demo: {dataset}", analytics_enabled=False,
                 delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as page:
    gr.Markdown(f"# cgan_tf: {dataset} generator, step {model.training_step:,}\n"
                "Every image comes from the SavedModel's serving signatures, as TF Serving serves them.")
    with gr.Row():
      with gr.Column(scale=3):
        with gr.Tabs():
          with gr.Tab("One class", elem_id="tab-class"):
            _one_class_tab(model, handlers)
          with gr.Tab("Every class", elem_id="tab-grid"):
            _every_class_tab(model, handlers)
          with gr.Tab("Interpolate", elem_id="tab-interpolate"):
            _interpolation_tab(model, handlers)
      with gr.Column(scale=1, min_width=300):
        gr.Markdown(model_card.markdown(model), elem_id="model-card")
  return page


def free_port() -> int:
  """A TCP port on 127.0.0.1 that was free a moment ago."""
  with socket.socket() as probe:
    probe.bind((HOST, 0))
    return probe.getsockname()[1]


def serve(model: ServedGenerator, port: int) -> None:
  """Serves the page on 127.0.0.1:`port` (0: a free port) until interrupted.

  Raises:
    ConfigError: naming --demo_port when the port cannot be had.
  """
  port = port or free_port()
  answers = Answers()
  page = build(model, answers)
  try:
    page.launch(server_name=HOST, server_port=port, share=False, quiet=True, prevent_thread_lock=True,
                footer_links=[], css=CSS)
  except OSError as e:
    answers.close()
    raise ConfigError(f"--demo_port: cannot serve on {HOST}:{port} ({e}); pass another port, or 0 for a "
                      f"free one") from e
  print(f"cgan_tf demo of {model.version_dir}: http://{HOST}:{port}/ (Ctrl-C stops it)", flush=True)
  try:
    page.block_thread()
  finally:
    page.close()
    answers.close()
