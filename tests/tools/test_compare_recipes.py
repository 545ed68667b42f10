"""tools/compare_recipes.py: the step budget that --fit derives from a recipe's measured rate, and the
schedules it fits to it."""

import pytest

from tools import compare_recipes


def test_fit_turns_minutes_into_steps_and_moves_the_ema_start_with_them():
  # 0.61 steps/s for 60 minutes is 2,196 steps; a recipe planned for 10,000 steps with its EMA starting at
  # 1,000 keeps the warm-up's tenth of the run.
  assert compare_recipes.fitted_flags(0.61, 60, planned_steps=10000, ema_start=1000) == [
      "--train_steps=2196", "--train_minutes=0", "--ema_start=220"]


def test_fit_keeps_the_moving_averages_horizon_a_fixed_share_of_the_run():
  # 0.999 averages over ~1,000 of 10,000 planned steps; over 2,196 steps the same tenth is ~220 steps.
  flags = compare_recipes.fitted_flags(0.61, 60, planned_steps=10000, ema_start=1000, ema_decay=0.999)
  decay = float(flags[-1].split("=")[1])
  assert flags[-1].startswith("--ema_decay=") and decay == pytest.approx(0.999 ** (10000 / 2196), rel=1e-6)
  assert 1 / (1 - decay) == pytest.approx(1000 * 2196 / 10000, rel=0.01)
  # A longer budget lengthens it: 18,740 planned steps of a 0.995 average, fitted to 45,000.
  longer = compare_recipes.fitted_flags(12.5, 60, planned_steps=18740, ema_start=0, ema_decay=0.995)
  assert longer == ["--train_steps=45000", "--train_minutes=0", f"--ema_decay={0.995 ** (18740 / 45000):.6g}"]


def test_fit_keeps_the_moving_average_of_a_recipe_without_a_length_of_its_own():
  # The named recipes run until the clock stops them: no planned length, so nothing to keep a share of.
  assert compare_recipes.fitted_flags(12.5, 2, planned_steps=0, ema_start=0, ema_decay=0.995) == [
      "--train_steps=1500", "--train_minutes=0"]


def test_fit_leaves_a_recipe_without_an_ema_start_without_one():
  assert compare_recipes.fitted_flags(12.5, 2, planned_steps=18740, ema_start=0) == [
      "--train_steps=1500", "--train_minutes=0"]


def test_fit_rounds_down_to_whole_executions():
  # 601 steps in the budget; a recipe running 8 steps per execution trains 600.
  assert compare_recipes.fitted_flags(601 / 60, 1, planned_steps=1000, ema_start=0,
                                      steps_per_execution=8)[0] == "--train_steps=600"


def test_fit_refuses_a_budget_shorter_than_a_step():
  with pytest.raises(ValueError, match="not one step"):
    compare_recipes.fitted_flags(0.01, 1, planned_steps=1000, ema_start=0)
