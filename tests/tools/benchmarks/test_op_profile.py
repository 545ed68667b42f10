"""The profile benchmark's grouping of op statistics (tools/benchmarks/op_profile.py); no trace needed."""

import pytest

from tools.benchmarks import op_profile


@pytest.mark.parametrize("op_type, name, category", [
    ("_MklNativeFusedConv2D", "generator/g_image/Conv2D", "convolution forward"),
    ("_MklNativeConv2DBackpropInput", "generator/g_up1/conv2d_transpose", "conv backprop input (incl. transposed-conv forward)"),
    ("_MklNativeConv2DBackpropFilterWithBias", "gradient_tape/d_down0", "conv backprop filter"),
    ("_MklNativeDepthwiseConv2dNative", "generator/g_image/depthwise", "convolution forward"),
    ("_MklMatMul", "discriminator/d_logit/MatMul", "matmul"),
    ("_MklNativeFusedBatchNormV3", "generator/g_bn/FusedBatchNormV3", "batch norm"),
    ("Mul", "StatefulPartitionedCall/adam_1/Mul_3", "optimizer updates"),
    ("Mul", "StatefulPartitionedCall/loss_scale_optimizer/Mul", "optimizer updates"),
    ("AssignVariableOp", "StatefulPartitionedCall/ema/AssignVariableOp_2", "EMA"),
    ("Cast", "StatefulPartitionedCall/generator/Cast", "elementwise / casts / reductions"),
    ("LeakyReluGrad", "gradient_tape/leaky_re_lu/LeakyReluGrad", "elementwise / casts / reductions"),
    ("StatelessRandomUniformFullIntV2", "stateless_random_uniform", "random numbers"),
    ("IteratorGetNext", "IteratorGetNext", "data / transfer"),
    ("_MklToTf", "x", "layout (Transpose, _MklToTf, reorders, copies)"),
    ("Transpose", "x", "layout (Transpose, _MklToTf, reorders, copies)"),
    ("ConcatV2", "generator/concatenate/concat", "other"),
])
def test_tf_ops_fall_into_their_categories(op_type, name, category):
  assert op_profile.categorize(op_type, name) == category


def test_hlo_instructions_are_categorized_by_the_tf_op_they_came_from_then_by_opcode():
  assert op_profile.categorize("Conv2DBackpropInput", "conv2d_transpose", "convolution").startswith(
      "conv backprop input")
  assert op_profile.categorize("", "convolution", "convolution") == "convolution forward"
  assert op_profile.categorize("", "transpose_copy_fusion", "fusion").startswith("layout")
  assert op_profile.categorize("MatMul", "MatMul", "dot") == "matmul"


def test_summary_leaves_the_input_pipeline_out_of_the_shares():
  ops = [dict(type="_MklNativeConv2D", name="Conv2D", occurrences=4, self_us=3000.0),
         dict(type="Mul", name="adam/Mul", occurrences=2, self_us=1000.0),
         dict(type="Dataset", name="Iterator::Root::Prefetch", occurrences=2, self_us=8000.0)]
  summary = op_profile.summarize(ops, steps=2)
  assert summary["total_ms_per_step"] == pytest.approx(2.0)
  assert summary["input_pipeline_ms_per_step"] == pytest.approx(4.0)
  assert summary["categories"][0] == ["convolution forward", pytest.approx(1.5), pytest.approx(0.75)]
  assert [row[0] for row in summary["types"]] == ["_MklNativeConv2D", "Mul"]
