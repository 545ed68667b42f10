"""The train step of three presets, written again in JAX, to time on a GPU machine without TensorFlow.

Not cgan_tf. A GPU machine lent to this project had JAX (CUDA 13) and no TensorFlow, and TensorFlow
(1.9 GB installed, built for CUDA 12) could not be carried there. This file repeats a preset's train
step with the same layer shapes, the same per-step work (G forward for D's fakes, D forward and backward
on the real and the fake batch, Adam on D; G forward and backward through D, Adam on G; the EMA of G;
--d_steps D updates per G update) and the same whole-step compilation that cgan_tf's GPU default uses
(XLA, several steps per call), so its time says what that arithmetic costs on the GPU when one compiler
schedules it. It leaves out what cgan_tf adds around a step (its tf.data pipeline: here the real batch is
a gather from a training set already in GPU memory; checkpoints, summaries, evaluation) and what differs
between the frameworks' kernels; the figures it gives are labelled as this proxy's, not cgan_tf's.

Networks (at 28x28x1, 10 classes; cgan_tf.networks gives the same parameter counts, see --params):
  fmnist     configs/fmnist.cfg: cdcgan, 64/64 filters, label channel in G, projection D, batch 64, EMA.
  reference  configs/fmnist_reference.cfg: cdcgan, 128/128 filters, label channels in G and D, batch 128.
  resnet     configs/fmnist_resnet.cfg: residual pair, 64/64, conditional BN in G, spectral norm and the
             projection logit in D, hinge loss, 5 D updates per G update, Adam(0, 0.9), linear decay, EMA.

  python tools/gpu_proxy/jax_step.py --presets=fmnist,reference,resnet --dtypes=bfloat16,float32
  python tools/gpu_proxy/jax_step.py --params     # parameter counts, to compare with cgan_tf's networks

Runs with `jax` alone (no TensorFlow, no cgan_tf import). 16-bit compute is bfloat16 here, with float32
weights, optimizer state, normalization statistics and losses; cgan_tf's GPU default is float16 with loss
scaling, which runs on the same tensor cores at the same rate.
"""

import argparse
import functools
import json
import platform
import time

import numpy as np

try:
  import jax
  import jax.numpy as jnp
except ImportError:  # PRESETS stays readable without JAX, so the tests can hold it to the presets it copies.
  jax = jnp = None

NUM_CLASSES = 10
IMAGE = (28, 28, 1)
PRESETS = {
    "fmnist": dict(preset="configs/fmnist.cfg", network="cdcgan", filters=64, batch=64, latent=100,
                   g_label="channel", d_label="projection", loss="nonsaturating", d_steps=1, beta_1=0.5,
                   beta_2=0.999, ema=0.995, decay=False, dropout=0.4),
    "reference": dict(preset="configs/fmnist_reference.cfg", network="cdcgan", filters=128, batch=128,
                      latent=100, g_label="channel", d_label="channel", loss="nonsaturating", d_steps=1,
                      beta_1=0.5, beta_2=0.999, ema=0.0, decay=False, dropout=0.4),
    "resnet": dict(preset="configs/fmnist_resnet.cfg", network="resnet", filters=64, batch=64, latent=128,
                   g_label="cbn", d_label="projection", loss="hinge", d_steps=5, beta_1=0.0, beta_2=0.9,
                   ema=0.999, decay=True, dropout=0.0),
}
EMBEDDING_DIM = 50
LEARNING_RATE = 2e-4
EPSILON = 1e-7  # Keras Adam's


# ---- layers: each is an init function (returning params) and an apply function --------------------------

def _glorot(key, shape, fan_in, fan_out):
  limit = np.sqrt(6.0 / (fan_in + fan_out))
  return jax.random.uniform(key, shape, jnp.float32, -limit, limit)


def dense_init(key, n_in, n_out, bias=True):
  p = {"w": _glorot(key, (n_in, n_out), n_in, n_out)}
  if bias:
    p["b"] = jnp.zeros((n_out,))
  return p


def conv_init(key, k, c_in, c_out, bias=True):
  p = {"w": _glorot(key, (k, k, c_in, c_out), k * k * c_in, k * k * c_out)}
  if bias:
    p["b"] = jnp.zeros((c_out,))
  return p


def _sn(w, u):
  """Spectrally normalized `w` (one power iteration from `u`, as cgan_tf's layers do) and the next `u`."""
  m = w.reshape(-1, w.shape[-1]).astype(jnp.float32)
  v = m @ u
  v = v / (jnp.linalg.norm(v) + 1e-12)
  u_new = m.T @ v
  u_new = u_new / (jnp.linalg.norm(u_new) + 1e-12)
  u_new = jax.lax.stop_gradient(u_new)
  sigma = v @ m @ u_new
  return w / sigma, u_new


def _weight(p, name, sn_state, new_state):
  if sn_state is None or name not in sn_state:
    return p["w"]
  w, new_state[name] = _sn(p["w"], sn_state[name])
  return w


def dense(p, x, dtype, name=None, sn_state=None, new_state=None):
  w = _weight(p, name, sn_state, new_state)
  y = x.astype(dtype) @ w.astype(dtype)
  return y + p["b"].astype(dtype) if "b" in p else y


def conv(p, x, dtype, stride=1, name=None, sn_state=None, new_state=None):
  w = _weight(p, name, sn_state, new_state)
  y = jax.lax.conv_general_dilated(x.astype(dtype), w.astype(dtype), (stride, stride), "SAME",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return y + p["b"].astype(dtype) if "b" in p else y


def conv_transpose(p, x, dtype, stride=2):
  y = jax.lax.conv_transpose(x.astype(dtype), p["w"].astype(dtype), (stride, stride), "SAME",
                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return y + p["b"].astype(dtype)


def leaky(x):
  return jnp.where(x > 0, x, 0.2 * x)


def batch_norm(x, gamma, beta):
  """Training-mode batch norm over N, H, W in float32; gamma/beta per channel or per example."""
  x32 = x.astype(jnp.float32)
  mean = x32.mean(axis=(0, 1, 2))
  var = x32.var(axis=(0, 1, 2))
  y = (x32 - mean) * jax.lax.rsqrt(var + 1e-3)
  if gamma.ndim == 2:
    gamma, beta = gamma[:, None, None, :], beta[:, None, None, :]
  return (y * gamma + beta).astype(x.dtype)


def upsample(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool(x):
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


# ---- networks -----------------------------------------------------------------------------------------

def init_networks(key, s):
  keys = iter(jax.random.split(key, 64))
  f, h, w, c = s["filters"], IMAGE[0], IMAGE[1], IMAGE[2]
  g, d, sn = {}, {}, {}
  if s["network"] == "cdcgan":
    g["label_embedding"] = jax.random.uniform(next(keys), (NUM_CLASSES, EMBEDDING_DIM), jnp.float32, -0.05, 0.05)
    g["label_projection"] = dense_init(next(keys), EMBEDDING_DIM, 49)
    g["project"] = dense_init(next(keys), s["latent"], 7 * 7 * f)
    g["up0"] = conv_init(next(keys), 4, f + 1, f)
    g["up1"] = conv_init(next(keys), 4, f, f)
    g["image"] = conv_init(next(keys), 7, f, c)
    d_in = c
    if s["d_label"] == "channel":
      d["label_embedding"] = jax.random.uniform(next(keys), (NUM_CLASSES, EMBEDDING_DIM), jnp.float32, -0.05, 0.05)
      d["label_projection"] = dense_init(next(keys), EMBEDDING_DIM, h * w)
      d_in += 1
    d["down0"] = conv_init(next(keys), 3, d_in, f)
    d["down1"] = conv_init(next(keys), 3, f, f)
    features = 7 * 7 * f
  else:
    g["project"] = dense_init(next(keys), s["latent"], 7 * 7 * f)
    for b in range(2):
      g[f"block{b}"] = {
          "shortcut": conv_init(next(keys), 1, f, f), "conv0": conv_init(next(keys), 3, f, f, bias=False),
          "conv1": conv_init(next(keys), 3, f, f),
          "bn0": {"gamma": jnp.ones((NUM_CLASSES, f)), "beta": jnp.zeros((NUM_CLASSES, f))},
          "bn1": {"gamma": jnp.ones((NUM_CLASSES, f)), "beta": jnp.zeros((NUM_CLASSES, f))}}
    g["bn_out"] = {"gamma": jnp.ones((f,)), "beta": jnp.zeros((f,))}
    g["image"] = conv_init(next(keys), 3, f, c)
    for b, c_in in enumerate((c, f, f)):
      d[f"block{b}"] = {"conv0": conv_init(next(keys), 3, c_in, f), "conv1": conv_init(next(keys), 3, f, f)}
      if b < 2:
        d[f"block{b}"]["shortcut"] = conv_init(next(keys), 1, c_in, f)
    features = f
  if s["d_label"] == "projection":
    d["logit"] = dense_init(next(keys), features, 1)
    d["class_embedding"] = {"w": jax.random.uniform(next(keys), (NUM_CLASSES, features), jnp.float32, -0.05, 0.05)}
  else:
    d["logit"] = dense_init(next(keys), features, 1)
  if s["network"] == "resnet":  # spectral norm on every weight of D: a `u` per weight
    for name, shape_out in _sn_weights(d):
      sn[name] = jax.random.normal(next(keys), (shape_out,))
  return g, d, sn


def _sn_weights(d):
  out = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(d)[0]:
    keys = [k.key for k in path]
    if keys[-1] == "w":
      out.append(("/".join(keys[:-1]), leaf.shape[-1]))
  return out


def generator(g, noise, label, s, dtype):
  f = s["filters"]
  x = dense(g["project"], noise, dtype).reshape(-1, 7, 7, f)
  if s["network"] == "cdcgan":
    label_map = dense(g["label_projection"], g["label_embedding"][label], dtype).reshape(-1, 7, 7, 1)
    x = jnp.concatenate([leaky(x), label_map], axis=-1)
    x = leaky(conv_transpose(g["up0"], x, dtype))
    x = leaky(conv_transpose(g["up1"], x, dtype))
    return jnp.tanh(conv(g["image"], x, dtype).astype(jnp.float32))
  for b in range(2):
    p = g[f"block{b}"]
    shortcut = conv(p["shortcut"], upsample(x), dtype)
    h = jax.nn.relu(batch_norm(x, p["bn0"]["gamma"][label], p["bn0"]["beta"][label]))
    h = conv(p["conv0"], upsample(h), dtype)
    h = jax.nn.relu(batch_norm(h, p["bn1"]["gamma"][label], p["bn1"]["beta"][label]))
    x = conv(p["conv1"], h, dtype) + shortcut
  x = jax.nn.relu(batch_norm(x, g["bn_out"]["gamma"], g["bn_out"]["beta"]))
  return jnp.tanh(conv(g["image"], x, dtype).astype(jnp.float32))


def discriminator(d, sn, image, label, s, dtype, key):
  """(logit [N] in float32, the advanced spectral-norm state)."""
  new_sn = {}
  if s["network"] == "cdcgan":
    x = image
    if s["d_label"] == "channel":
      label_map = dense(d["label_projection"], d["label_embedding"][label], dtype).reshape(-1, 28, 28, 1)
      x = jnp.concatenate([x.astype(dtype), label_map], axis=-1)
    x = leaky(conv(d["down0"], x, dtype, stride=2))
    x = leaky(conv(d["down1"], x, dtype, stride=2))
    h = x.reshape(x.shape[0], -1)
    keep = jax.random.bernoulli(key, 1.0 - s["dropout"], h.shape)
    h = jnp.where(keep, h / (1.0 - s["dropout"]), 0).astype(dtype)
  else:
    x = image.astype(dtype)
    for b in range(3):
      p, name = d[f"block{b}"], f"block{b}"
      kw = dict(sn_state=sn, new_state=new_sn)
      h = x if b == 0 else jax.nn.relu(x)
      h = conv(p["conv0"], h, dtype, name=f"{name}/conv0", **kw)
      h = conv(p["conv1"], jax.nn.relu(h), dtype, name=f"{name}/conv1", **kw)
      if b == 0:
        x = avg_pool(h) + conv(p["shortcut"], avg_pool(x), dtype, name=f"{name}/shortcut", **kw)
      elif b == 1:
        x = avg_pool(h) + avg_pool(conv(p["shortcut"], x, dtype, name=f"{name}/shortcut", **kw))
      else:
        x = h + x
    h = jax.nn.relu(x).astype(jnp.float32).sum(axis=(1, 2))
  kw = dict(sn_state=sn if sn else None, new_state=new_sn)
  logit = dense(d["logit"], h.astype(jnp.float32), jnp.float32, name="logit", **kw)[:, 0]
  if s["d_label"] == "projection":
    embed = _weight(d["class_embedding"], "class_embedding", sn if sn else None, new_sn)
    logit = logit + jnp.sum(embed[label] * h.astype(jnp.float32), axis=-1)
  return logit, {**sn, **new_sn}


def d_loss_fn(real_logit, fake_logit, loss):
  if loss == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logit)) + jnp.mean(jax.nn.relu(1.0 + fake_logit))
  return jnp.mean(jax.nn.softplus(-real_logit)) + jnp.mean(jax.nn.softplus(fake_logit))


def g_loss_fn(fake_logit, loss):
  return -jnp.mean(fake_logit) if loss == "hinge" else jnp.mean(jax.nn.softplus(-fake_logit))


# ---- optimizer and step -------------------------------------------------------------------------------

def adam_init(params):
  zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)
  return {"m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.int32)}


def adam_update(params, grads, opt, lr, s):
  t = opt["t"] + 1
  b1, b2 = s["beta_1"], s["beta_2"]
  m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], grads)
  v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], grads)
  scale = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
  params = jax.tree_util.tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + EPSILON), params, m, v)
  return params, {"m": m, "v": v, "t": t}


def make_step(s, dtype, total_steps=10000):
  batch = s["batch"]

  def sample(key):
    k_noise, k_label, k_index = jax.random.split(key, 3)
    noise = jax.random.normal(k_noise, (batch, s["latent"]))
    label = jax.random.randint(k_label, (batch,), 0, NUM_CLASSES)
    return noise, label, k_index

  def step(state, key, images, labels):
    g, d, sn, g_opt, d_opt, ema, it = (state[k] for k in ("g", "d", "sn", "g_opt", "d_opt", "ema", "step"))
    lr = LEARNING_RATE * (1.0 - it / total_steps) if s["decay"] else LEARNING_RATE
    keys = jax.random.split(key, 2 * s["d_steps"] + 2)
    for i in range(s["d_steps"]):
      noise, fake_label, k_index = sample(keys[2 * i])
      index = jax.random.randint(k_index, (batch,), 0, images.shape[0])
      real, real_label = images[index], labels[index]
      fake = jax.lax.stop_gradient(generator(g, noise, fake_label, s, dtype))
      k_real, k_fake = jax.random.split(keys[2 * i + 1])

      def d_loss(d_params, sn_state):
        real_logit, sn_state = discriminator(d_params, sn_state, real, real_label, s, dtype, k_real)
        fake_logit, sn_state = discriminator(d_params, sn_state, fake, fake_label, s, dtype, k_fake)
        return d_loss_fn(real_logit, fake_logit, s["loss"]), sn_state

      grads, sn = jax.grad(d_loss, has_aux=True)(d, sn)
      d, d_opt = adam_update(d, grads, d_opt, lr, s)
    noise, fake_label, _ = sample(keys[-2])

    def g_loss(g_params):
      fake = generator(g_params, noise, fake_label, s, dtype)
      logit, new_sn = discriminator(d, sn, fake, fake_label, s, dtype, keys[-1])
      return g_loss_fn(logit, s["loss"]), new_sn

    grads, sn = jax.grad(g_loss, has_aux=True)(g)
    g, g_opt = adam_update(g, grads, g_opt, lr, s)
    if s["ema"]:
      ema = jax.tree_util.tree_map(lambda e, p: s["ema"] * e + (1 - s["ema"]) * p, ema, g)
    return dict(g=g, d=d, sn=sn, g_opt=g_opt, d_opt=d_opt, ema=ema, step=it + 1)

  return step


def initial_state(s, seed=0):
  g, d, sn = init_networks(jax.random.PRNGKey(seed), s)
  ema = jax.tree_util.tree_map(jnp.copy, g) if s["ema"] else {}
  return dict(g=g, d=d, sn=sn, g_opt=adam_init(g), d_opt=adam_init(d), ema=ema,
              step=jnp.zeros((), jnp.float32))


def parameter_counts(s):
  g, d, _ = init_networks(jax.random.PRNGKey(0), s)
  size = lambda tree: int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(tree)))
  return {"generator": size(g), "discriminator": size(d)}


def _training_set():
  """A stand-in for Fashion-MNIST's 60,000 images and labels, already on the device."""
  images = jax.random.uniform(jax.random.PRNGKey(1), (60000, *IMAGE), jnp.float32, -1.0, 1.0)
  return images, jax.random.randint(jax.random.PRNGKey(2), (60000,), 0, NUM_CLASSES)


@functools.lru_cache(maxsize=None)
def xla_gflop_per_step(name, dtype_name):
  """XLA's own FLOP count of one step, from a compilation of that step alone (the scanned one counts its loop
  body once); the same for every --steps_per_call, so compiled once per preset and dtype. On a GPU it leaves
  out the convolutions XLA hands to cuDNN."""
  s = PRESETS[name]
  step = make_step(s, jnp.dtype(dtype_name))
  images, labels = _training_set()
  one = jax.jit(lambda st, k: step(st, k, images, labels)).lower(initial_state(s), jax.random.PRNGKey(3)).compile()
  cost = one.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return round(float(cost.get("flops", float("nan"))) / 1e9, 3) if cost else float("nan")


def time_preset(name, dtype_name, steps_per_call, seconds, min_calls=5, warmup_calls=2):
  s = PRESETS[name]
  dtype = jnp.dtype(dtype_name)
  step = make_step(s, dtype)
  images, labels = _training_set()

  def many(state, key):
    def body(state, k):
      return step(state, k, images, labels), None
    state, _ = jax.lax.scan(body, state, jax.random.split(key, steps_per_call))
    return state

  run = jax.jit(many, donate_argnums=0)
  state = initial_state(s)
  key = jax.random.PRNGKey(3)
  compile_start = time.perf_counter()
  compiled = run.lower(state, key).compile()
  compile_seconds = time.perf_counter() - compile_start
  for i in range(warmup_calls):
    state = compiled(state, jax.random.fold_in(key, i))
  jax.block_until_ready(state)
  times = []
  while len(times) < min_calls or sum(times) * steps_per_call < seconds:
    start = time.perf_counter()
    state = compiled(state, jax.random.fold_in(key, 1000 + len(times)))
    jax.block_until_ready(state)
    times.append((time.perf_counter() - start) / steps_per_call)
  ms = float(np.median(times)) * 1e3
  return dict(preset=name, dtype=dtype_name, batch=s["batch"], d_steps=s["d_steps"], steps_per_call=steps_per_call,
              calls=len(times), ms_per_step=round(ms, 4), ms_min=round(min(times) * 1e3, 4),
              ms_max=round(max(times) * 1e3, 4), steps_per_second=round(1e3 / ms, 1),
              xla_gflop_per_step=xla_gflop_per_step(name, dtype_name),
              compile_seconds=round(compile_seconds, 1),
              finite=bool(all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(state["g"]))))


def build_parser() -> argparse.ArgumentParser:
  """The command line (readable without JAX, so a test can hold the documented commands to it)."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--presets", default="fmnist,reference,resnet")
  parser.add_argument("--dtypes", default="bfloat16,float32")
  parser.add_argument("--steps_per_call", default="1,20", help="comma-separated: steps compiled into one call")
  parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per configuration (about)")
  parser.add_argument("--params", action="store_true", help="print parameter counts and exit")
  parser.add_argument("--jsonl", default="", help="append one line per configuration here")
  return parser


def main():
  parser = build_parser()
  args = parser.parse_args()
  presets = args.presets.split(",")
  for name in presets:
    if name not in PRESETS:
      parser.error(f"--presets: unknown {name!r}; known: {', '.join(PRESETS)}")
  if args.params:
    print(json.dumps({name: parameter_counts(PRESETS[name]) for name in presets}))
    return
  print(f"# jax {jax.__version__}, devices {jax.devices()}, python {platform.python_version()}")
  for name in presets:
    for dtype_name in args.dtypes.split(","):
      for spc in (int(x) for x in args.steps_per_call.split(",")):
        result = time_preset(name, dtype_name, spc, args.seconds)
        print(json.dumps(result), flush=True)
        if args.jsonl:
          with open(args.jsonl, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
  main()
