"""Stopping on SIGTERM or SIGINT without losing a step: the step in flight finishes, that step is
checkpointed, and the process ends saying where it stopped and that the same command resumes.

Schedulers, cloud preemption and `docker stop` send SIGTERM and allow a grace period before SIGKILL;
Ctrl-C sends SIGINT. Both are caught for the whole of training (`StopRequest`). While the run is still
being set up nothing is trained, so a signal ends it at once; from the first train step on, the signal
is only noted, and `callbacks.StopOnRequest` stops `fit` after the step in flight and saves exactly that
step. A signal during a measurement abandons the measurement (the rerun makes it).

Several workers must stop after the same step, or one would wait in the next step's collectives for a
peer that left. They agree through the step itself: each worker feeds its "stop" vote into the train
step (`gan.ConditionalGAN.stop_vote`), Keras averages the step's logs over every replica of every worker,
and every worker reads the same average (`STOP_VOTE`) after the same step. A signal on one worker thus
stops all of them after the next step; the chief saves it and every worker resumes from it.

TensorFlow's `tf.distribute.experimental.PreemptionCheckpointHandler` is not used: it adds a variable of
its own to the checkpoint it is given and restores the newest checkpoint when it is built (bypassing the
fallback over damaged checkpoints in `checkpoints.restore_training`), counts its own calls instead of the
model's step, watches SIGTERM only, and ends the process itself through its `exit_fn` from inside the
training loop, before the Keras callbacks flush. Keras 3's `BackupAndRestore` handles no signals.
"""

import signal
import threading
import time

from absl import logging

# The signals that stop training cleanly.
SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The log of the train step through which the workers of a multi-worker job agree to stop: above 0 when
# any worker was signalled. Not a training figure: the callbacks that show or record logs leave it out.
STOP_VOTE = "stop_vote"


class StopRequested(BaseException):
  """Raised by the signal handler while the run is being set up, to end it at once.

  A BaseException, as KeyboardInterrupt is, so that the `except Exception` blocks on the way (which handle
  their own failures, e.g. trying the next checkpoint) let it through.
  """


class TrainingStopped(Exception):
  """Training stopped on a signal; the message says at which step, what was saved and how to resume.

  Attributes:
    step: the step the run stopped at (and was saved at, when a step was trained).
    signal_name: 'SIGTERM' or 'SIGINT'; for a worker stopped by its peers' vote, which signal is unknown.
  """

  def __init__(self, message: str, step: int, signal_name: str):
    super().__init__(message)
    self.step = step
    self.signal_name = signal_name


class StopRequest:
  """Catches SIGTERM and SIGINT inside a `with` block and restores the previous handlers after it.

  Until `defer()` a signal raises `StopRequested` at once (nothing trained yet, nothing to save). After
  it, the first signal is noted (`requested`) for the training loop to act on after the step in flight;
  later ones are logged and otherwise ignored, so a second Ctrl-C cannot interrupt the checkpoint being
  written (SIGKILL still ends the process; the save is atomic, so the previous checkpoint stays whole).

  Handlers can be set only from the main thread; elsewhere (training in a thread) the signals keep their
  handlers and nothing is caught.
  """

  def __init__(self):
    self.signal_name = None
    self.received_at = None
    self.deferred = False
    self._previous = {}

  @property
  def requested(self) -> bool:
    return self.signal_name is not None

  def defer(self) -> None:
    """From now on a signal stops training after the step in flight instead of at once."""
    self.deferred = True

  def __enter__(self) -> "StopRequest":
    if threading.current_thread() is not threading.main_thread():
      logging.warning("Training outside the main thread: SIGTERM and SIGINT are not caught, so a signal does "
                      "not checkpoint the step in flight")
      return self
    for signum in SIGNALS:
      self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def install(self) -> None:
    """Sets the handlers again, over any that were set since `with` began.

    TensorFlow's multi-worker runtime sets a SIGTERM handler of its own when it starts (its preemption
    notifier, which logs the signal and then ignores it), so a worker would train on through SIGTERM.
    """
    for signum in self._previous:
      signal.signal(signum, self._handle)

  def __exit__(self, *exc_info) -> bool:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous.clear()
    return False

  def _handle(self, signum, frame) -> None:
    del frame
    name = signal.Signals(signum).name
    if self.requested:
      logging.warning("%s received while stopping on %s: the checkpoint is finished first (SIGKILL would "
                      "abandon it and leave the previous one)", name, self.signal_name)
      return
    self.signal_name, self.received_at = name, time.monotonic()
    if not self.deferred:
      raise StopRequested(name)
    logging.warning("%s received: stopping after the step in flight and checkpointing that step", name)
