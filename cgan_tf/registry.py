"""The one registry type: every choice the package offers by name (a network, a loss, a metric, a mode...).

A `Registry` is a read-only mapping from names to members, in the order they were registered, so a flag's
choices, its help text and the lookup behind it come from one place. Members are added once, by the module
that owns the choice, with `register` (directly, or as a decorator); a second registration of a name is a
programming error. Looking up an unknown name raises an `UnknownNameError` that names the kind and every choice.

  LOSSES = Registry("loss")
  LOSSES.register("hinge", GanLoss(hinge_discriminator_loss, hinge_generator_loss))

  @METRICS.register("kid")
  def _kid(...): ...
"""

from typing import Dict, Generic, Iterator, Mapping, Optional, Tuple, TypeVar

Member = TypeVar("Member")


class UnknownNameError(KeyError, ValueError):
  """A name no member is registered under; the message names the kind and every registered name.

  A KeyError, as a mapping's lookup raises, and a ValueError, as a bad value to a function is.
  """

  def __str__(self) -> str:  # KeyError's own quotes the message.
    return str(self.args[0]) if self.args else ""


class Registry(Mapping[str, Member], Generic[Member]):
  """Names of one kind mapped to their members, in registration order.

  Args:
    kind: what the names name, for error messages ("network", "data source", ...).
    members: members to register at once, in order.
  """

  def __init__(self, kind: str, members: Optional[Mapping[str, Member]] = None):
    self.kind = kind
    self._members: Dict[str, Member] = {}
    for name, member in (members or {}).items():
      self.register(name, member)

  def register(self, name: str, member: Optional[Member] = None):
    """Adds `member` under `name`; without `member`, returns a decorator that adds what it decorates.

    Raises:
      ValueError: if `name` is already registered.
    """
    if member is None:
      def wrap(decorated: Member) -> Member:
        self.register(name, decorated)
        return decorated
      return wrap
    if name in self._members:
      raise ValueError(f"{self.kind} {name!r} is registered twice")
    self._members[name] = member
    return member

  def names(self) -> Tuple[str, ...]:
    """Every registered name, in registration order."""
    return tuple(self._members)

  def __getitem__(self, name: str) -> Member:
    try:
      return self._members[name]
    except KeyError:
      raise UnknownNameError(f"unknown {self.kind} {name!r}; registered: {', '.join(self._members)}") from None

  def __iter__(self) -> Iterator[str]:
    return iter(self._members)

  def __len__(self) -> int:
    return len(self._members)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {list(self._members)})"

