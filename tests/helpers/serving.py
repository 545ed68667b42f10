"""A stand-in for TF Serving's REST API over a SavedModel: how it maps requests onto signatures and refuses."""

import base64
import contextlib
import http.server
import json
import os
import re
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from cgan_tf import export

def _tf_serving_error(message):
  return tf.errors.InvalidArgumentError(None, None, message)


def serve_like_tf_serving(signature_fn, body):
  """Answers a REST predict body the way TF Serving maps it onto a signature, or raises its error.

  As tensorflow_serving/util/json_tensor.cc does: a signature without inputs is refused before anything
  else; every signature input is required. Row format: each input is the stack of that name over the
  instances (bare values when the signature has one input), and every output must have the same first
  dimension. Columnar format: each input is the given tensor (a bare value when there is one input).
  Outputs ending in _bytes come back base64-encoded as {"b64": ...}.

  Raises:
    tf.errors.InvalidArgumentError: with TF Serving's message, for a request it refuses.
  """
  specs = signature_fn.structured_input_signature[1]
  if not specs:
    raise _tf_serving_error("Failed to get input map for signature: "
                            + (body.get("signature_name") or "DEFAULT"))
  if "instances" in body:
    rows = body["instances"]
    if all(isinstance(row, dict) for row in rows):
      values = {name: [row[name] for row in rows] for name in specs if all(name in row for row in rows)}
    else:
      assert len(specs) == 1
      values = {next(iter(specs)): rows}
  elif isinstance(body["inputs"], dict):
    values = body["inputs"]
  elif len(specs) == 1:
    values = {next(iter(specs)): body["inputs"]}
  else:
    raise _tf_serving_error("inputs is a plain value/list, but expecting an object as multiple input "
                            "tensors required as per tensorinfo_map")
  for name in specs:
    if name not in values:
      raise _tf_serving_error(f"Missing named input: {name} in 'inputs' object.")
  outputs = signature_fn(**{name: tf.constant(np.asarray(value), specs[name].dtype)
                            for name, value in values.items()})

  def encode(name, value):
    if name.endswith("_bytes"):
      if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
      return [{"b64": base64.b64encode(v).decode()} for v in value]
    if isinstance(value, bytes):  # Other strings come back as UTF-8 text.
      return value.decode()
    if isinstance(value, np.ndarray) and value.dtype == object:
      return [v.decode() for v in value.tolist()]
    return value.tolist()

  outputs = {name: value.numpy() for name, value in outputs.items()}
  if "instances" in body:
    for name, value in outputs.items():
      if np.ndim(value) == 0:  # A string scalar comes back as bytes.
        raise _tf_serving_error(f"Tensor name: {name} has no shape information ")
    batches = {name: len(value) for name, value in outputs.items()}
    if len(set(batches.values())) > 1:
      raise _tf_serving_error(f"Tensor name: {max(batches, key=batches.get)} has inconsistent batch size")
    batch = len(next(iter(outputs.values())))
    return {"predictions": [{name: encode(name, value[index]) for name, value in outputs.items()}
                            for index in range(batch)]}
  return {"outputs": {name: encode(name, value) for name, value in outputs.items()}}


def signature_defs_like_tf_serving(export_dir):
  """The signatures of TF Serving's model metadata answer for the SavedModel in `export_dir`.

  TF Serving prints each SignatureDef proto as JSON with the proto's field names and its empty fields
  (tensorflow_serving/model_servers/http_rest_api_util.cc), so int64 sizes are strings:
  {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}, ...], "unknown_rank": false},
  "name": "serving_latent_noise:0"}.
  """
  with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
    meta_graph = saved_model_pb2.SavedModel.FromString(f.read()).meta_graphs[0]
  return {name: json_format.MessageToDict(signature_def, always_print_fields_with_no_presence=True,
                                          preserving_proto_field_name=True)
          for name, signature_def in meta_graph.signature_def.items()}


@contextlib.contextmanager
def tf_serving_stand_in(export_dir, loaded=None, model_name="fashion"):
  """A local HTTP server answering TF Serving's REST API for the SavedModel version in `export_dir`.

  POST /v1/models/<name>[/versions/<v>]:predict is answered from the loaded SavedModel through
  serve_like_tf_serving, which refuses what TF Serving refuses (e.g. a signature without inputs), with
  HTTP 400 and {"error": ...}. GET /v1/models/<name>[/versions/<v>]/metadata answers
  {"model_spec": {"name", "signature_name": "", "version"}, "metadata": {"signature_def":
  {"signature_def": {name: SignatureDef as JSON}}}}, as TF Serving does. Yields the port.
  """
  loaded = loaded or tf.saved_model.load(export_dir)
  version = os.path.basename(os.path.normpath(export_dir))
  signature_defs = signature_defs_like_tf_serving(export_dir)

  class Handler(http.server.BaseHTTPRequestHandler):

    def _model(self, pattern):
      match = re.fullmatch(rf"/v1/models/([^/:]+)(?:/versions/(\d+))?{pattern}", self.path)
      if not match:
        return 400, {"error": f"Malformed request: {self.command} {self.path}"}
      if match.group(1) != model_name or match.group(2) not in (None, version):
        return 404, {"error": f"Servable not found for request: {match.group(1)} {match.group(2) or ''}"}
      return None

    def _answer(self, status, answer):
      payload = json.dumps(answer).encode()
      self.send_response(status)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(payload)))
      self.end_headers()
      self.wfile.write(payload)

    def do_GET(self):  # pylint: disable=invalid-name
      refused = self._model("/metadata")
      self._answer(*(refused or (200, {
          "model_spec": {"name": model_name, "signature_name": "", "version": version},
          "metadata": {"signature_def": {"signature_def": signature_defs}}})))

    def do_POST(self):  # pylint: disable=invalid-name
      body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
      refused = self._model(":predict")
      if refused:
        return self._answer(*refused)
      name = body.get("signature_name") or export.SERVING_DEFAULT
      if name not in loaded.signatures:
        return self._answer(400, {"error": f'Serving signature name: "{name}" not found in signature def'})
      try:
        self._answer(200, serve_like_tf_serving(loaded.signatures[name], body))
      except tf.errors.InvalidArgumentError as e:
        self._answer(400, {"error": e.message})

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server.server_address[1]
  finally:
    server.shutdown()
    server.server_close()
