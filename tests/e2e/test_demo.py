"""--mode=demo in a real browser: the command serves the pretrained export on a free loopback port, and
headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) uses the page as a person
would. The pixels the browser decodes must be serving_seeded's, bad input must get a message, and the
page is photographed. One demo process and one browser serve every test here.

CGAN_TF_WRITE_SCREENSHOT=1 also writes the screenshot to docs/gallery/demo.png (the docs' picture).
"""

import importlib.util
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import export
from cgan_tf import interpolation
from cgan_tf import rng
from tests.helpers.data import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
EXPORT_DIR = "pretrained/fashion_mnist"  # As the docs' command gives it, from the repository root.
PRETRAINED = os.path.join(REPO_ROOT, EXPORT_DIR)
SCREENSHOT = os.path.join(REPO_ROOT, "docs", "gallery", "demo.png")
START_SECONDS = 240  # TensorFlow, Gradio and the SavedModel load on a shared 2-core machine.
WAIT_SECONDS = 60

_missing = [what for what, ok in (
    (CHROMIUM, os.access(CHROMIUM, os.X_OK)), (CHROMEDRIVER, os.access(CHROMEDRIVER, os.X_OK)),
    ("the demo extra (gradio: pip install -e '.[demo]')", importlib.util.find_spec("gradio") is not None),
    ("selenium (pip install -e '.[test]')", importlib.util.find_spec("selenium") is not None))
    if not ok]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)}; .ci/run installs them")]

if not _missing:
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.keys import Keys  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top

# Draws an <img> at its own size on a canvas and returns its RGBA bytes: what the browser decoded.
READ_PIXELS = """
const image = arguments[0];
const canvas = document.createElement("canvas");
canvas.width = image.naturalWidth;
canvas.height = image.naturalHeight;
const context = canvas.getContext("2d");
context.drawImage(image, 0, 0);
return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
"""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
  """`python -m cgan_tf.main --mode=demo --export_dir=pretrained/fashion_mnist --demo_port=0`, running."""
  log_path = tmp_path_factory.mktemp("demo") / "stderr.log"
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]),
             TF_CPP_MIN_LOG_LEVEL="2")
  with open(log_path, "w") as log:
    process = subprocess.Popen(
        [sys.executable, "-m", "cgan_tf.main", "--mode=demo", f"--export_dir={EXPORT_DIR}", "--demo_port=0"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
  lines = queue.Queue()
  threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
  try:
    deadline, url = time.monotonic() + START_SECONDS, None
    while url is None and time.monotonic() < deadline and process.poll() is None:
      try:
        match = re.search(r"http://127\.0\.0\.1:\d+/", lines.get(timeout=1))
        url = match.group(0) if match else None
      except queue.Empty:
        pass
    if url is None:
      pytest.fail(f"the demo printed no address (exit code {process.poll()}):\n{log_path.read_text()[-3000:]}")
    yield url
  finally:
    process.terminate()
    try:
      process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory, demo_url):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  profile = tmp_path_factory.mktemp("chromium-profile")
  # Without the background-networking flags Chromium keeps dialling out, and those refused connections
  # come many at a time on a machine without internet.
  for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--window-size=1400,1100", "--force-device-scale-factor=1"):
    options.add_argument(flag)
  driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
  try:
    driver.get(demo_url)
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "generate"))
    yield driver
  finally:
    driver.quit()


@pytest.fixture(scope="module")
def served():
  version = export.existing_versions(PRETRAINED)[-1]
  return tf.saved_model.load(os.path.join(PRETRAINED, str(version)))


def type_into(driver, css: str, text: str):
  field = driver.find_element(By.CSS_SELECTOR, css)
  field.send_keys(Keys.CONTROL, "a")
  field.send_keys(Keys.BACKSPACE)
  field.send_keys(text)
  return field


def open_tab(driver, name: str):
  driver.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{name}']").click()


def choose_class(driver, elem_id: str, shown: str):
  field = type_into(driver, f"#{elem_id} input", shown)
  field.send_keys(Keys.ENTER)


def message_of(driver, elem_id: str, expected: str) -> str:
  """The text of a message area once it contains `expected` (the markdown only: while a request runs, the
  area also shows a timer)."""
  css = f"#{elem_id} [data-testid='markdown']"
  WebDriverWait(driver, WAIT_SECONDS).until(lambda d: expected in d.find_element(By.CSS_SELECTOR, css).text)
  return driver.find_element(By.CSS_SELECTOR, css).text.strip()


def shown_pixels(driver, image) -> np.ndarray:
  """uint8 [H, W, 4]: the decoded pixels of an <img> on the page."""
  WebDriverWait(driver, WAIT_SECONDS).until(
      lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image))
  width, height = (int(image.get_attribute(name)) for name in ("naturalWidth", "naturalHeight"))
  return np.array(driver.execute_script(READ_PIXELS, image), np.uint8).reshape(height, width, 4)


def as_rgba(images: np.ndarray) -> np.ndarray:
  """uint8 [n, H, W, 1] grey -> [n, H, W, 4] as a canvas holds them."""
  grey = images[..., 0]
  return np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=-1)


def test_class_8_seed_3_shows_serving_seededs_pixels_and_offers_its_pngs(browser, served):
  choose_class(browser, "class", "8: Bag")
  type_into(browser, "#seed input, #seed textarea", "3")
  type_into(browser, "#count input, #count textarea", "4")
  browser.find_element(By.ID, "generate").click()
  assert message_of(browser, "class-message", "4 image(s) of Bag, seed 3").startswith("4 image(s) of Bag, seed 3")
  expected = served.signatures[export.SERVING_SEEDED](label=tf.fill([4], 8), seed=tf.constant([3, 8], tf.int64))
  WebDriverWait(browser, WAIT_SECONDS).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images img")) == 4)
  images = browser.find_elements(By.CSS_SELECTOR, "#images img")
  shown = np.stack([shown_pixels(browser, image) for image in images])
  np.testing.assert_array_equal(shown, as_rgba(expected["images"].numpy()))
  # And the files behind them are the model's own PNG bytes, as TF Serving would return them.
  served_bytes = [urllib.request.urlopen(image.get_attribute("src"), timeout=WAIT_SECONDS).read()
                  for image in images]
  assert served_bytes == list(expected["images_png_bytes"].numpy())
  downloads = [link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "#downloads a")]
  assert any(name.endswith("/class8_seed3_grid.png") for name in downloads), downloads
  assert any(name.endswith("/class8_seed3.zip") for name in downloads), downloads


@pytest.mark.parametrize("field,value,message", [
    ("seed", "3.5", "Cannot draw this: seed must be a whole number, got '3.5'"),
    ("count", "1025", "Cannot draw this: count must be between 1 and 1024 (the export's max_batch), got 1025"),
])
def test_bad_input_gets_a_message_and_no_images(browser, field, value, message):
  type_into(browser, "#seed input, #seed textarea", "3")
  type_into(browser, "#count input, #count textarea", "4")
  type_into(browser, f"#{field} input, #{field} textarea", value)
  browser.find_element(By.ID, "generate").click()
  assert message_of(browser, "class-message", message) == message
  WebDriverWait(browser, WAIT_SECONDS).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#images img"))
  assert "Traceback" not in browser.page_source


def test_the_slider_walks_the_path_between_two_seeds(browser, served):
  open_tab(browser, "Interpolate")
  choose_class(browser, "path-class", "8: Bag")
  type_into(browser, "#path-start input, #path-start textarea", "3")
  type_into(browser, "#path-end input, #path-end textarea", "4")
  type_into(browser, "#path-steps input, #path-steps textarea", "5")
  browser.find_element(By.ID, "path-generate").click()
  message_of(browser, "path-message", "5 points of Bag on the spherical path from seed 3 to seed 4")
  ends = [rng.latent([1, 100], tf.constant([seed, 8], tf.int64)).numpy()[0] for seed in (3, 4)]
  expected = served.signatures[export.SERVING_LATENT](
      label=tf.fill([5], 8), noise=tf.constant(interpolation.path(ends[0], ends[1], 5, "normal")))["images"]
  expected = as_rgba(expected.numpy())
  frame = lambda: browser.find_element(By.CSS_SELECTOR, "#path-image img")  # noqa: E731
  np.testing.assert_array_equal(shown_pixels(browser, frame()), expected[0])
  first_src = frame().get_attribute("src")
  # The message and the slider's new range (0-4, at 0) arrive in one update, but the page may render the
  # slider after the message: a key pressed before then is undone by the update's 0, and no frame follows.
  slider = "#path-frame input[type=range]"
  WebDriverWait(browser, WAIT_SECONDS).until(
      lambda d: d.find_element(By.CSS_SELECTOR, slider).get_attribute("max") == "4")
  # End moves the focused slider to its last point, one value sent, as a keyboard user does. Clearing the
  # number box and typing 4 would send two: an empty value first, which Gradio refuses with an error.
  browser.find_element(By.CSS_SELECTOR, slider).send_keys(Keys.END)
  WebDriverWait(browser, WAIT_SECONDS).until(lambda d: frame().get_attribute("src") != first_src)
  np.testing.assert_array_equal(shown_pixels(browser, frame()), expected[4])


def test_the_page_shows_the_models_metadata_and_figures_and_is_photographed(browser, tmp_path):
  card = browser.find_element(By.ID, "model-card").text
  assert "fashion_mnist" in card and "18,740" in card and "ema_generator" in card
  assert "frechet_distance" in card and "23.93" in card  # The report beside the export.
  open_tab(browser, "One class")
  choose_class(browser, "class", "8: Bag")
  type_into(browser, "#seed input, #seed textarea", "3")
  type_into(browser, "#count input, #count textarea", "16")
  browser.find_element(By.ID, "generate").click()
  message_of(browser, "class-message", "16 image(s) of Bag, seed 3")
  WebDriverWait(browser, WAIT_SECONDS).until(
      lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images img")) == 16 and all(
          d.execute_script("return arguments[0].complete", image)
          for image in d.find_elements(By.CSS_SELECTOR, "#images img")))
  path = str(tmp_path / "demo.png")
  assert browser.save_screenshot(path)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  assert Image.open(path).size[0] >= 1000
  if os.environ.get("CGAN_TF_WRITE_SCREENSHOT") == "1":
    shutil.copyfile(path, SCREENSHOT)
