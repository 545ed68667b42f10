"""cgan_tf/registry.py: one registry type, in registration order, write-once, with lookups that name the choices."""

import pytest

from cgan_tf import augment
from cgan_tf import data
from cgan_tf import distribute
from cgan_tf import gan
from cgan_tf import layers as cgan_layers
from cgan_tf import losses
from cgan_tf import main
from cgan_tf import networks
from cgan_tf import optimizers
from cgan_tf import rng
from cgan_tf import schedules
from cgan_tf import trained_run
from cgan_tf.data import own_images
from cgan_tf.evaluation import metrics
from cgan_tf.registry import Registry, UnknownNameError


def test_members_keep_their_registration_order_and_are_read_only_by_mapping():
  registry = Registry("colour", {"red": 1, "green": 2})
  registry.register("blue", 3)
  assert list(registry) == ["red", "green", "blue"] and registry.names() == ("red", "green", "blue")
  assert registry["green"] == 2 and "blue" in registry and "black" not in registry and len(registry) == 3
  with pytest.raises(TypeError):
    registry["black"] = 4  # A Mapping: members are added only through register.


def test_a_name_registers_once_and_the_decorator_returns_what_it_registers():
  registry = Registry("metric")

  @registry.register("mean")
  def mean(values):
    return sum(values) / len(values)

  assert registry["mean"] is mean and mean([1, 3]) == 2
  with pytest.raises(ValueError, match="metric 'mean' is registered twice"):
    registry.register("mean", len)


def test_an_unknown_name_is_a_key_error_and_a_value_error_naming_every_choice():
  registry = Registry("loss", {"hinge": 1, "wasserstein": 2})
  with pytest.raises(UnknownNameError) as raised:
    registry["huber"]
  assert str(raised.value) == "unknown loss 'huber'; registered: hinge, wasserstein"
  assert isinstance(raised.value, KeyError) and isinstance(raised.value, ValueError)
  assert registry.get("huber") is None  # Mapping.get relies on the KeyError.


@pytest.mark.parametrize("registry", [
    data.SOURCES, networks.NETWORKS, metrics.METRICS, losses.LOSSES, optimizers.OPTIMIZERS,
    schedules.LR_SCHEDULES, augment.POLICIES, rng.NOISE_DISTRIBUTIONS, distribute.STRATEGIES,
    distribute.PRECISIONS, distribute.XLA_MODES, gan.UPDATE_SCHEMES, cgan_layers.IMAGE_CONVS,
    networks.G_CONDITIONINGS, networks.D_CONDITIONINGS, own_images.RESIZE_MODES, own_images.BAD_IMAGE_POLICIES,
    trained_run.GENERATORS, trained_run.EXPORT_SOURCES, main.MODES,
], ids=lambda registry: registry.kind)
def test_every_choice_the_package_offers_by_name_is_one_registry_type(registry):
  assert isinstance(registry, Registry) and len(registry) >= 2
