"""A TF Serving REST client for an exported cgan_tf generator: request images, write them as PNGs.

Needs only the standard library and numpy (no TensorFlow, no installed cgan_tf), so it runs on any machine
that can reach the server; the interpolation maths is cgan_tf/interpolation.py (numpy only), loaded from the
checkout this file sits in, or from an installed cgan_tf:

  python tools/serving_client.py --host=localhost --port=8501 --model_name=fashion --label=7 --count=16 \
      --output_dir=/tmp/served
  python tools/serving_client.py ... --signature=serving_seeded --seed=1,2 --format=inputs
  python tools/serving_client.py ... --signature=serving_latent --interpolate=8 --format=instances

serving_latent needs the model's noise size and distribution; --latent_dim and --noise give them, and by
default the model describes itself: latent_dim is the width of serving_latent's noise input in TF Serving's
model metadata (GET /v1/models/<name>/metadata), and the noise distribution is an output of the model's
`metadata` signature, which is sent its one ignored input (TF Serving's REST API runs no signature without
inputs).

Request formats (https://www.tensorflow.org/tfx/serving/api_rest):
  instances (row): {"signature_name": s, "instances": [{"label": 7, ...}, ...]}, one object per image;
    the server stacks each named input over the instances, so every input must be per image.
  inputs (columnar): {"signature_name": s, "inputs": {"label": [7, ...], "seed": [1, 2]}}, each input is
    one tensor; the only format for serving_seeded, whose seed is one [2] tensor for the whole batch.
Outputs whose names end in _bytes come back as {"b64": "..."}; this client writes those PNG bytes as
they are, so the files hold exactly what the model encoded.
"""

import argparse
import base64
import importlib.util
import json
import os
import sys
import urllib.error
import urllib.request
from typing import List, Optional, Sequence

import numpy as np

SIGNATURES = ("serving_default", "serving_seeded", "serving_latent")
METADATA_SIGNATURE = "metadata"
FORMATS = ("instances", "inputs")
NOISE_DISTRIBUTIONS = ("normal", "uniform")


def _load_interpolation():
  """cgan_tf/interpolation.py, without importing cgan_tf's package (and with it TensorFlow)."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "cgan_tf", "interpolation.py")
  if os.path.exists(path):
    spec = importlib.util.spec_from_file_location("cgan_tf_interpolation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
  from cgan_tf import interpolation  # pylint: disable=g-import-not-at-top
  return interpolation


interpolation = _load_interpolation()


class ClientError(RuntimeError):
  """The request cannot be built, or the server answered with an error."""


def build_request(signature: str, labels: Optional[Sequence[int]], request_format: str,
                  seed: Optional[Sequence[int]] = None, noise: Optional[np.ndarray] = None,
                  count: Optional[int] = None) -> dict:
  """The JSON body of a predict request.

  Args:
    signature: one of SIGNATURES.
    labels: one class index per image; None for an unconditional model, whose serving_default and
      serving_seeded take `count` (a scalar: columnar format only) and serving_latent only `noise`.
    request_format: "instances" (row) or "inputs" (columnar).
    seed: two integers, for serving_seeded.
    noise: float [len(labels), latent_dim], for serving_latent.
    count: images to ask an unconditional model for (serving_default, serving_seeded).

  Returns:
    A dict to send as JSON.

  Raises:
    ClientError: for a missing or unexpected input, or serving_seeded in the row format.
  """
  if signature not in SIGNATURES:
    raise ClientError(f"signature must be one of {', '.join(SIGNATURES)}, got {signature!r}")
  if request_format not in FORMATS:
    raise ClientError(f"format must be one of {', '.join(FORMATS)}, got {request_format!r}")
  if labels is None:
    inputs = {}
    if signature != "serving_latent":
      if count is None or count < 1:
        raise ClientError("an unconditional model needs a positive count of images")
      if request_format == "instances":
        raise ClientError("an unconditional model takes one count for the whole request, which the row "
                          "(instances) format cannot express; use --format=inputs")
      inputs["count"] = int(count)
    batch = count
  else:
    labels = [int(label) for label in labels]
    inputs = {"label": labels}
    batch = len(labels)
  if signature == "serving_seeded":
    if seed is None or len(seed) != 2:
      raise ClientError("serving_seeded needs --seed with two integers, e.g. --seed=1,2")
    if request_format == "instances":
      # The row format batches every input per instance; the seed is one [2] tensor for the batch.
      raise ClientError("serving_seeded takes one seed for the whole batch, which the row (instances) "
                        "format cannot express; use --format=inputs")
    inputs["seed"] = [int(s) for s in seed]
  elif seed is not None:
    raise ClientError(f"--seed is only for serving_seeded, not {signature}")
  if signature == "serving_latent":
    if noise is None:
      raise ClientError("serving_latent needs noise [batch, latent_dim]")
    noise = np.asarray(noise, dtype=np.float32)
    if noise.ndim != 2 or (batch is not None and noise.shape[0] != batch):
      raise ClientError(f"noise must have shape [{batch}, latent_dim], got {list(noise.shape)}")
    inputs["noise"] = noise.tolist()
    batch = noise.shape[0]
  elif noise is not None:
    raise ClientError(f"noise is only for serving_latent, not {signature}")
  if request_format == "inputs":
    return {"signature_name": signature, "inputs": inputs}
  instances = [{name: value[index] for name, value in inputs.items()} for index in range(batch)]
  return {"signature_name": signature, "instances": instances}


def _decode_bytes(value) -> bytes:
  if not (isinstance(value, dict) and "b64" in value):
    raise ClientError(f"expected a {{\"b64\": ...}} object for a _bytes output, got {type(value).__name__}")
  return base64.b64decode(value["b64"])


def decode_response(response: dict):
  """Turns a predict response (either format) into (uint8 images [batch, H, W, C], list of PNG bytes).

  Raises:
    ClientError: if the server answered with an error or the outputs are missing.
  """
  if "error" in response:
    raise ClientError(f"the server refused the request: {response['error']}")
  if "predictions" in response:  # Row format: one object per image.
    rows = response["predictions"]
    images = [row["images"] for row in rows]
    pngs = [_decode_bytes(row["images_png_bytes"]) for row in rows]
  elif "outputs" in response:  # Columnar format: one list per output.
    images = response["outputs"]["images"]
    pngs = [_decode_bytes(value) for value in response["outputs"]["images_png_bytes"]]
  else:
    raise ClientError(f"the response has neither 'predictions' nor 'outputs': {sorted(response)}")
  return np.asarray(images, dtype=np.uint8), pngs


def predict_url(host: str, port: int, model_name: str, version: Optional[int] = None) -> str:
  version_part = f"/versions/{version}" if version else ""
  return f"http://{host}:{port}/v1/models/{model_name}{version_part}:predict"


def metadata_url(host: str, port: int, model_name: str, version: Optional[int] = None) -> str:
  """TF Serving's model metadata URL: every signature's inputs and outputs with dtypes and shapes."""
  version_part = f"/versions/{version}" if version else ""
  return f"http://{host}:{port}/v1/models/{model_name}{version_part}/metadata"


def post(url: str, body: dict, timeout: float = 60.0) -> dict:
  """POSTs `body` as JSON and returns the decoded answer; an HTTP error's JSON body is returned too."""
  return _send(urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                      headers={"Content-Type": "application/json"}), timeout)


def get(url: str, timeout: float = 60.0) -> dict:
  """GETs `url` and returns the decoded JSON answer; an HTTP error's JSON body is returned too."""
  return _send(urllib.request.Request(url, method="GET"), timeout)


def _send(request: urllib.request.Request, timeout: float) -> dict:
  url = request.full_url
  try:
    with urllib.request.urlopen(request, timeout=timeout) as answer:
      return json.loads(answer.read())
  except urllib.error.HTTPError as e:
    # TF Serving answers a bad request (e.g. a label out of range) with 400 and {"error": "..."}.
    text = e.read().decode(errors="replace")
    try:
      return json.loads(text)
    except json.JSONDecodeError:
      raise ClientError(f"HTTP {e.code} from {url}: {text[:500]}") from e
  except urllib.error.URLError as e:
    raise ClientError(f"cannot reach {url}: {e.reason} (is TF Serving running with --rest_api_port?)") from e


def random_noise(count: int, latent_dim: int, seed: int, noise: str = "normal") -> np.ndarray:
  """float32 [count, latent_dim] from the model's noise distribution: standard normal or uniform in [-1, 1]."""
  if noise not in NOISE_DISTRIBUTIONS:
    raise ClientError(f"noise must be one of {', '.join(NOISE_DISTRIBUTIONS)}, got {noise!r}")
  generator = np.random.default_rng(seed)
  values = (generator.uniform(-1.0, 1.0, (count, latent_dim)) if noise == "uniform" else
            generator.standard_normal((count, latent_dim)))
  return values.astype(np.float32)


def interpolation_noise(steps: int, latent_dim: int, seed: int, noise: str = "normal") -> np.ndarray:
  """`steps` points between two random latent vectors: on the sphere for normal noise, on the straight line
  (inside the cube) for uniform noise."""
  start, end = random_noise(2, latent_dim, seed, noise)
  return interpolation.path(start, end, steps, noise)


def fetch_signatures(url: str) -> dict:
  """The served model's signatures from TF Serving's model metadata endpoint.

  Args:
    url: the model's metadata URL (`metadata_url`).

  Returns:
    {signature name: {"inputs": {name: {"dtype": ..., "tensor_shape": {"dim": [{"size": "-1"}, ...]}}},
    "outputs": {...}, "method_name": ...}}, as TF Serving prints SignatureDef protos.

  Raises:
    ClientError: if the server answers with an error.
  """
  response = get(url)
  try:
    return response["metadata"]["signature_def"]["signature_def"]
  except (KeyError, TypeError):
    raise ClientError(f"the server did not describe the model at {url} "
                      f"({response.get('error', sorted(response))})") from None


def input_width(signatures: dict, signature: str, name: str) -> Optional[int]:
  """The declared last dimension of input `name` of `signature`; None if absent or open (-1)."""
  info = signatures.get(signature, {}).get("inputs", {}).get(name)
  dims = (info or {}).get("tensor_shape", {}).get("dim", [])
  width = int(dims[-1].get("size", -1)) if dims else -1
  return width if width > 0 else None


def fetch_metadata(url: str, signatures: dict) -> dict:
  """The served model's `metadata` signature: latent_dim, noise, class names, ... as one dict.

  Args:
    url: the model's predict URL (`predict_url`).
    signatures: the model's signatures (`fetch_signatures`), for the inputs to send.

  Returns:
    The description from metadata_json, with the signature's other outputs filled in where missing.

  Raises:
    ClientError: if the model has no such signature, or one without inputs (which TF Serving's REST API
      refuses to run, as in exports from before it took one), or the server refuses the request.
  """
  if METADATA_SIGNATURE not in signatures:
    raise ClientError(f"the model has no '{METADATA_SIGNATURE}' signature")
  inputs = signatures[METADATA_SIGNATURE].get("inputs") or {}
  if not inputs:
    raise ClientError(f"the model's '{METADATA_SIGNATURE}' signature takes no inputs, and TF Serving's REST "
                      f"API runs no signature without inputs (an export from an older cgan_tf)")
  # Each input is ignored by the model; the columnar format, because the outputs have no common batch.
  response = post(url, {"signature_name": METADATA_SIGNATURE, "inputs": {name: 0 for name in inputs}})
  if "error" in response or "outputs" not in response:
    raise ClientError(f"the server did not answer the model's '{METADATA_SIGNATURE}' signature "
                      f"({response.get('error', sorted(response))})")
  outputs = response["outputs"]
  description = json.loads(outputs.get("metadata_json", "{}"))
  for name, value in outputs.items():
    description.setdefault(name, value)
  return description


def latent_settings(predict: str, metadata: str, latent_dim: Optional[int], noise: Optional[str]):
  """(latent_dim, noise) for serving_latent: the ones given, the rest from the model.

  Args:
    predict: the model's predict URL (`predict_url`).
    metadata: the model's metadata URL (`metadata_url`).
    latent_dim: the noise size, or None/0 to read it from serving_latent's declared noise width.
    noise: the noise distribution, or None to read it from the `metadata` signature.

  Raises:
    ClientError: if the model does not say what was not given.
  """
  if latent_dim and noise:
    return latent_dim, noise
  signatures = fetch_signatures(metadata)
  latent_dim = latent_dim or input_width(signatures, "serving_latent", "noise")
  if not (latent_dim and noise):
    try:
      description = fetch_metadata(predict, signatures)
    except ClientError as e:
      missing = [flag for flag, value in (("--latent_dim", latent_dim), ("--noise", noise)) if not value]
      raise ClientError(f"{e}; pass {' and '.join(missing)} as recorded in the export's "
                        f"<version>/assets/metadata.json") from e
    latent_dim = latent_dim or int(description["latent_dim"])
    noise = noise or description.get("noise", "normal")
  return latent_dim, noise


def write_pngs(pngs: List[bytes], labels: Sequence[int], output_dir: str) -> List[str]:
  os.makedirs(output_dir, exist_ok=True)
  paths = []
  for index, (png, label) in enumerate(zip(pngs, labels)):
    path = os.path.join(output_dir, f"class{label}_{index:04d}.png" if label >= 0 else f"sample_{index:04d}.png")
    with open(path, "wb") as f:
      f.write(png)
    paths.append(path)
  return paths


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--host", default="localhost")
  parser.add_argument("--port", type=int, default=8501, help="TF Serving's --rest_api_port.")
  parser.add_argument("--model_name", required=True, help="TF Serving's --model_name.")
  parser.add_argument("--model_version", type=int, default=0, help="0: the version the server chooses.")
  parser.add_argument("--signature", choices=SIGNATURES, default="serving_default")
  parser.add_argument("--format", choices=FORMATS, default="instances", dest="request_format")
  parser.add_argument("--label", type=int, required=True, help="The class to draw; -1 for an unconditional "
                      "model (its signatures take a count, and the columnar format: --format=inputs).")
  parser.add_argument("--count", type=int, default=16, help="Images to request.")
  parser.add_argument("--seed", default=None, help="serving_seeded: two integers, e.g. 1,2.")
  parser.add_argument("--latent_dim", type=int, default=0, help="serving_latent: the noise size; 0 (default) "
                      "reads it from the model's metadata (serving_latent's noise width).")
  parser.add_argument("--interpolate", type=int, default=0,
                      help="serving_latent: a path of N images between two random latent points, spherical "
                           "for normal noise and straight for uniform noise (default: --count independent "
                           "points).")
  parser.add_argument("--noise_seed", type=int, default=0, help="serving_latent: seed of the noise.")
  parser.add_argument("--noise", choices=NOISE_DISTRIBUTIONS, default=None, help="serving_latent: the "
                      "distribution the model was trained on; default: the 'noise' output of the model's "
                      "metadata signature.")
  parser.add_argument("--output_dir", required=True)
  return parser.parse_args(argv)


def main(argv=None) -> List[str]:
  args = parse_args(argv)
  seed = [int(part) for part in args.seed.split(",")] if args.seed else None
  if args.interpolate == 1 or args.interpolate < 0:
    raise ClientError(f"--interpolate must be 0 (off) or at least 2 images, got {args.interpolate}")
  count = args.interpolate or args.count
  url = predict_url(args.host, args.port, args.model_name, args.model_version)
  noise = None
  if args.signature == "serving_latent":
    latent_dim, distribution = latent_settings(
        url, metadata_url(args.host, args.port, args.model_name, args.model_version), args.latent_dim,
        args.noise)
    noise = (interpolation_noise(count, latent_dim, args.noise_seed, distribution) if args.interpolate else
             random_noise(count, latent_dim, args.noise_seed, distribution))
  labels = [args.label] * count if args.label >= 0 else None
  body = build_request(args.signature, labels, args.request_format, seed=seed, noise=noise, count=count)
  images, pngs = decode_response(post(url, body))
  paths = write_pngs(pngs, labels or [-1] * len(pngs), args.output_dir)
  what = f"of class {args.label}" if labels else "(unconditional)"
  print(f"{len(paths)} images {list(images.shape)} {what} -> {args.output_dir}")
  return paths


if __name__ == "__main__":
  try:
    main()
  except ClientError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
