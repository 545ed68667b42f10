"""Where a train step's time goes: op statistics from a TF profiler trace, grouped into categories.

What is read, and how (TensorFlow 2.21, no TensorBoard plugin needed):

* TensorFlow ops: the trace's `.xplane.pb` files go through TF's own converter,
  `tensorflow.python.profiler.internal._pywrap_profiler_plugin.xspace_to_tools_data(paths,
  "framework_op_stats")`, the table TensorBoard's "TF op stats" page shows. Its rows give, per op, the type
  (e.g. `_MklNativeConv2DBackpropInput`), the name, occurrences and self time (time in the op minus the
  ops it called). The copy of the table without the idle row is used.
* XLA: a compiled cluster is one TF op there. Its insides are read from the XSpace proto itself
  (`tensorflow.tsl.profiler.protobuf.xplane_pb2`): XLA:CPU marks each executed HLO instruction with an
  event carrying an `hlo_op` stat, and the `/host:metadata` plane holds the compiled module
  (`tensorflow.compiler.xla.service.hlo_pb2.HloProto`), whose instructions name their opcode and the TF op
  they came from (`metadata.op_type`), e.g. a `convolution` from `Conv2DBackpropFilter`.

Self times are summed over every thread the ops ran on; with inter-op parallelism that sum can exceed
the wall-clock time of the steps, so shares are of summed op time and the step's wall time is separate.
"""

import collections
import glob
import json
import os
import re
from typing import Dict, List, Tuple

CATEGORIES = (
    "convolution forward",
    "conv backprop input (incl. transposed-conv forward)",
    "conv backprop filter",
    "matmul",
    "batch norm",
    "elementwise / casts / reductions",
    "optimizer updates",
    "EMA",
    "random numbers",
    "data / transfer",
    "layout (Transpose, _MklToTf, reorders, copies)",
    "other",
)

_DATA_TYPES = ("IteratorGetNext", "OptionalGetValue", "OptionalFromValue", "OptionalHasValue", "_Recv", "_Send",
               "_HostRecv", "_HostSend", "CopyToDevice", "CopyFromDevice", "MultiDeviceIteratorGetNextFromShard",
               "AnonymousIteratorV3", "MakeIterator", "IteratorToStringHandle")
_LAYOUT_TYPES = ("Transpose", "ConjugateTranspose", "_MklToTf", "_MklNativeToTf", "DataFormatVecPermute",
                 "DataFormatDimMap", "InvertPermutation")
_ELEMENTWISE = re.compile(
    r"^(Cast|LeakyRelu|LeakyReluGrad|Relu|ReluGrad|Relu6|Elu|Selu|Tanh|TanhGrad|Sigmoid|SigmoidGrad|Softplus|"
    r"Mul|MulNoNan|AddV2|Add|AddN|Sub|RealDiv|Div|DivNoNan|FloorDiv|FloorMod|Neg|Square|SquaredDifference|Sqrt|"
    r"Rsqrt|RsqrtGrad|SqrtGrad|Exp|Log|Log1p|Abs|Sign|Pow|Maximum|Minimum|Select|SelectV2|Greater|GreaterEqual|"
    r"Less|LessEqual|Equal|NotEqual|LogicalAnd|LogicalOr|LogicalNot|BiasAdd|BiasAddGrad|Sum|Mean|Prod|Max|Min|"
    r"ZerosLike|OnesLike|Fill|Tile|BroadcastTo|Softmax|Reciprocal|ReciprocalGrad|IsFinite|All|Any|ClipByValue|"
    r"Erf|Floor|Ceil|Round|L2Loss|Inv|Xdivy|Xlogy|StopGradient|_UnaryOpsComposition|RightShift|LeftShift|"
    r"BitwiseAnd|BitwiseOr|Cos|Sin)$")


def base_type(op_type: str) -> str:
  """The op type without oneDNN's and the grappler fusions' prefixes: _MklNativeFusedConv2D -> Conv2D."""
  for prefix in ("_MklNative", "_Mkl", "_Fused", "Fused"):
    if op_type.startswith(prefix) and not op_type.startswith("FusedBatchNorm"):
      op_type = op_type[len(prefix):]
  return op_type


def categorize(op_type: str, op_name: str = "", hlo_opcode: str = "") -> str:
  """The category of a TF op (its type and name) or of an HLO instruction (the TF op type it came from,
  its name and its opcode)."""
  name = op_name.lower()
  kind = base_type(op_type or "")
  # By name first: the optimizers and the moving average are elementwise ops under their own scopes.
  # Keras names an optimizer's ops after it (adam/, adam_1/ for the second Adam); cgan_tf.gan puts the
  # moving average under ema/.
  if re.search(r"(^|/)(adam|adamw|sgd|rmsprop|lion|[a-z_]*optimizer[a-z_]*)(_\d+)?(/|$)", name) or kind.startswith(
      ("ResourceApply", "Apply")):
    return "optimizer updates"
  if re.search(r"(^|/)(ema|moving_average)(_\d+)?(/|$)", name):
    return "EMA"
  convolution = kind.startswith(("Conv2D", "Conv3D", "DepthwiseConv2dNative"))
  if convolution and "BackpropInput" in kind:
    return "conv backprop input (incl. transposed-conv forward)"
  if convolution and "BackpropFilter" in kind:
    return "conv backprop filter"
  if kind.startswith(("Conv2D", "Conv3D", "DepthwiseConv2dNative")):
    return "convolution forward"
  if "MatMul" in kind or kind in ("Einsum", "BatchMatMulV2", "BatchMatMulV3"):
    return "matmul"
  if "BatchNorm" in kind:
    return "batch norm"
  if kind.startswith(("StatelessRandom", "RandomUniform", "RandomStandardNormal", "StatelessTruncated",
                      "RngBitGenerator", "RngReadAndSkip", "StatelessRandomGetKeyCounter", "ThreefryFold",
                      "StatelessRandomUniformFullInt")):
    return "random numbers"
  if kind in _DATA_TYPES or kind.startswith(("Iterator", "MultiDeviceIterator", "Dataset")):
    return "data / transfer"
  if kind in _LAYOUT_TYPES or op_type in _LAYOUT_TYPES or "reorder" in kind.lower():
    return "layout (Transpose, _MklToTf, reorders, copies)"
  if _ELEMENTWISE.match(kind):
    return "elementwise / casts / reductions"
  if hlo_opcode:  # An HLO instruction with no TF op behind it, or one this table does not know.
    if hlo_opcode == "convolution":
      return "convolution forward"
    if hlo_opcode == "dot":
      return "matmul"
    if hlo_opcode in ("transpose", "copy") or "transpose" in name or re.match(r"^copy(_fusion)?(\.\d+)?$", name):
      return "layout (Transpose, _MklToTf, reorders, copies)"
    if hlo_opcode in ("rng-bit-generator", "rng"):
      return "random numbers"
    if hlo_opcode in ("fusion", "add", "multiply", "subtract", "divide", "select", "convert", "reduce",
                      "broadcast", "maximum", "minimum", "compare", "exponential", "log", "tanh", "negate"):
      return "elementwise / casts / reductions"
  return "other"


def xplane_paths(logdir: str) -> List[str]:
  return sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))


def framework_op_stats(paths: List[str]) -> List[dict]:
  """TF's "framework_op_stats" tool over the trace: one dict per op (idle time left out).

  Returns:
    [{"type", "name", "occurrences", "self_us"}], largest self time first.

  Raises:
    RuntimeError: when TF's converter is missing or refuses the trace.
  """
  from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

  data, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
  if not ok:
    raise RuntimeError(f"xspace_to_tools_data(framework_op_stats) failed: {data[:200]!r}")
  tables = json.loads(data)
  best = None
  for table in tables:  # Two copies: with and without the IDLE row; keep the one without.
    columns = [column["id"] for column in table["cols"]]
    rows = [{key: cell.get("v") for key, cell in zip(columns, row["c"])} for row in table["rows"]]
    if not any(row.get("type") == "IDLE" for row in rows) or best is None:
      best = rows
  ops = [dict(type=row["type"], name=row["operation"], occurrences=int(row["occurrences"] or 0),
              self_us=float(row["total_self_time"] or 0.0))
         for row in best or [] if row.get("type") != "IDLE"]
  return sorted(ops, key=lambda op: -op["self_us"])


def _stat_value(stat):
  for field in ("str_value", "int64_value", "uint64_value", "double_value", "ref_value"):
    if stat.HasField(field):
      return getattr(stat, field)
  return None


def _hlo_instructions(space) -> Dict[str, Tuple[str, str, str]]:
  """HLO instruction name -> (opcode, TF op type, TF op name), from the compiled modules in the trace."""
  try:
    from tensorflow.compiler.xla.service import hlo_pb2
  except ImportError:
    return {}
  found = {}
  for plane in space.planes:
    if plane.name != "/host:metadata":
      continue
    for metadata in plane.event_metadata.values():
      for stat in metadata.stats:
        if not stat.bytes_value:
          continue
        proto = hlo_pb2.HloProto()
        try:
          proto.ParseFromString(stat.bytes_value)
        except Exception:  # Not an HLO proto: some other bytes stat.
          continue
        for computation in proto.hlo_module.computations:
          for instruction in computation.instructions:
            found.setdefault(instruction.name, (instruction.opcode, instruction.metadata.op_type,
                                                instruction.metadata.op_name))
  return found


def hlo_op_stats(paths: List[str]) -> List[dict]:
  """Self time of every executed XLA HLO instruction in the trace (empty without XLA).

  Returns:
    [{"name" (the instruction, numeric suffix dropped), "opcode", "tf_type", "tf_name", "occurrences",
    "self_us"}], largest first. Self time: the event's duration minus that of HLO events nested in it on
    the same thread.
  """
  from tensorflow.tsl.profiler.protobuf import xplane_pb2

  totals: Dict[tuple, dict] = {}
  for path in paths:
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
      space.ParseFromString(f.read())
    instructions = _hlo_instructions(space)
    for plane in space.planes:
      hlo_stat_ids = {key for key, metadata in plane.stat_metadata.items() if metadata.name == "hlo_op"}
      if not hlo_stat_ids:
        continue
      for line in plane.lines:
        events = []
        for event in line.events:
          if any(stat.metadata_id in hlo_stat_ids for stat in event.stats):
            name = plane.event_metadata[event.metadata_id].name
            events.append((event.offset_ps, event.offset_ps + event.duration_ps, name))
        events.sort(key=lambda e: (e[0], -e[1]))
        stack: List[list] = []  # [start, end, name, child time]
        finished = []

        def close(until):
          while stack and stack[-1][1] <= until:
            item = stack.pop()
            finished.append(item)
            if stack:
              stack[-1][3] += item[1] - item[0]

        for start, end, name in events:
          close(start)
          stack.append([start, end, name, 0])
        close(float("inf"))
        for start, end, name, children in finished:
          opcode, tf_type, tf_name = instructions.get(name, ("", "", ""))
          # Instances of one instruction kind from one kind of TF op add up: convolution.3 and
          # convolution.7 both from Conv2DBackpropInput are one row, a convolution from Conv2D another.
          short = re.sub(r"\.\d+$", "", name)
          entry = totals.setdefault((short, opcode, tf_type), dict(name=short, opcode=opcode, tf_type=tf_type,
                                                                   tf_name=tf_name, occurrences=0, self_us=0.0))
          entry["occurrences"] += 1
          entry["self_us"] += max(0, end - start - children) / 1e6
  return sorted(totals.values(), key=lambda op: -op["self_us"])


def summarize(ops: List[dict], steps: int, hlo: bool = False) -> dict:
  """Per-category and per-op-type totals of `ops` (framework_op_stats or hlo_op_stats rows), per step.

  tf.data's iterator events (op type "Dataset") run on the pipeline's own threads, overlapping the step,
  and their times include waiting for a free prefetch slot: they are summed apart (`input_pipeline_ms_per_step`)
  and left out of the shares.
  """
  by_category = collections.defaultdict(float)
  by_type = collections.defaultdict(lambda: [0.0, 0])
  pipeline_us = sum(op["self_us"] for op in ops if not hlo and op["type"] == "Dataset")
  ops = [op for op in ops if hlo or op["type"] != "Dataset"]
  total = sum(op["self_us"] for op in ops) or 1.0
  for op in ops:
    if hlo:
      category = categorize(op["tf_type"], op["tf_name"] or op["name"], op["opcode"] or "fusion")
      key = f"{op['name']} ({op['opcode'] or '?'}{', from ' + op['tf_type'] if op['tf_type'] else ''})"
    else:
      category = categorize(op["type"], op["name"])
      key = op["type"]
    by_category[category] += op["self_us"]
    # One op type can fall in several categories (a Mul of Adam's, of the EMA, of a layer): a row each.
    entry = by_type[(key, category)]
    entry[0] += op["self_us"]
    entry[1] += op["occurrences"]
  return dict(
      total_ms_per_step=total / 1000.0 / steps, input_pipeline_ms_per_step=pipeline_us / 1000.0 / steps,
      categories=sorted(([name, us / 1000.0 / steps, us / total] for name, us in by_category.items()),
                        key=lambda row: -row[1]),
      types=sorted(([name, us / 1000.0 / steps, us / total, count / steps, category]
                    for (name, category), (us, count) in by_type.items()), key=lambda row: -row[1]))


def read_trace(logdir: str, steps: int) -> dict:
  """The op statistics of every trace under `logdir`, summarized per step (see the module docstring)."""
  paths = xplane_paths(logdir)
  if not paths:
    raise RuntimeError(f"the profiler wrote no .xplane.pb under {logdir}")
  result = dict(framework=summarize(framework_op_stats(paths), steps))
  hlo = hlo_op_stats(paths)
  if hlo:
    result["hlo"] = summarize(hlo, steps, hlo=True)
  return result
