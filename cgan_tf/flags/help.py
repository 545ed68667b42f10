"""Help text from a registry of described choices, so a flag's help and its choices have one owner."""


def described(choices) -> str:
  """'name: description. name: description.' for a registry whose members are descriptions."""
  return " ".join(f"{name}: {text}." for name, text in choices.items())
