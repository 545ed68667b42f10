"""Evaluation: the evaluator classifier, the metrics, and measuring during training or after."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf.evaluation import metrics

_DEFAULTS = config_lib.Config()


flags.DEFINE_string("evaluator_dir", _DEFAULTS.evaluator_dir, "Cache of evaluator classifiers, one "
                    "subdirectory per data set; --mode=train_evaluator writes it, evaluation trains one on "
                    "demand if missing.")
flags.DEFINE_integer("evaluator_epochs", _DEFAULTS.evaluator_epochs, "Epochs of the evaluator classifier "
                     "on the real train split.")
flags.DEFINE_integer("eval_every", _DEFAULTS.eval_every, "During training: measure the generator every N "
                     "steps (TensorBoard eval/*, <run_dir>/metrics.jsonl); 0 turns it off.")
flags.DEFINE_integer("eval_samples", _DEFAULTS.eval_samples, "--mode=eval: images per measurement, equal per "
                     "class (generated, and real train images for the floor).")
flags.DEFINE_integer("train_eval_samples", _DEFAULTS.train_eval_samples, "Images per measurement during "
                     "training (--eval_every), equal per class; fewer than --mode=eval's --eval_samples, so "
                     "measuring costs little training time.")
flags.DEFINE_list("eval_metrics", _DEFAULTS.eval_metrics, "Comma-separated metrics from the registry in "
                  f"cgan_tf/evaluation/metrics.py: {', '.join(metrics.METRICS)}.")
flags.DEFINE_integer("eval_seed", _DEFAULTS.eval_seed, "Seed of the evaluation noise and subsets (the same "
                     "seed gives the same report).")
flags.DEFINE_string("eval_source", _DEFAULTS.eval_source, "--mode=eval: 'checkpoint' (the run's newest), "
                    "'best' (kept by --keep_best), or the directory of an exported SavedModel.")
flags.DEFINE_string("eval_report", _DEFAULTS.eval_report, "--mode=eval: where to write the JSON report "
                    "(default <run_dir>/eval_report.json).")
flags.DEFINE_integer("cas_epochs", _DEFAULTS.cas_epochs, "Epochs of the fresh classifier trained on "
                     "generated images for the classification accuracy score.")
flags.DEFINE_bool("keep_best", _DEFAULTS.keep_best, "With --eval_every: keep the generator checkpoint with "
                  "the lowest Fréchet distance in <run_dir>/best.")
