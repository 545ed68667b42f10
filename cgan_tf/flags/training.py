"""GAN training: the loss, penalties, augmentation, EMA, optimizers and their schedules, batch and length of
a run."""

from absl import flags

from cgan_tf import augment
from cgan_tf import config as config_lib
from cgan_tf import gan
from cgan_tf import losses
from cgan_tf import optimizers
from cgan_tf import schedules
from cgan_tf.flags.help import described

_DEFAULTS = config_lib.Config()


flags.DEFINE_enum("loss", _DEFAULTS.loss, list(losses.LOSSES), "GAN loss from the registry in "
                  "cgan_tf/losses.py (wasserstein needs --gp_weight or --spectral_norm).")
flags.DEFINE_float("gp_weight", _DEFAULTS.gp_weight, "WGAN-GP gradient penalty weight (e.g. 10 with "
                   "--loss=wasserstein --d_steps=5); 0 turns it off.")
flags.DEFINE_float("r1_gamma", _DEFAULTS.r1_gamma, "R1 penalty gamma / 2 * |grad D(real)|^2 (Mescheder et al. "
                   "2018); 0 turns it off.")
flags.DEFINE_integer("r1_every", _DEFAULTS.r1_every, "Lazy R1: apply it every N steps, weighted by N "
                     "(StyleGAN2 uses 16); 1 applies it every step.")
flags.DEFINE_float("mode_seeking", _DEFAULTS.mode_seeking, "Mode-seeking regularisation of G (Mao et al. 2019, "
                   "MSGAN), this weight times 1 / (mean|G(z1)-G(z2)| / mean|z1-z2| + 1e-5) for pairs of noise "
                   "vectors of one label, added to G's loss: G is pushed to give one label varied images. G's "
                   "batch is drawn in pairs, so each replica's share of --batch_size must be even. 0 turns it "
                   "off.")
flags.DEFINE_list("diffaugment", _DEFAULTS.diffaugment, "DiffAugment policies applied alike to D's real and "
                  "fake inputs (Zhao et al. 2020): a comma-separated list of distinct "
                  f"{', '.join(augment.POLICIES)}; empty for none.")
flags.DEFINE_float("ema_decay", _DEFAULTS.ema_decay, "Exponential moving average of the generator's weights "
                   "(e.g. 0.999), used for samples, evaluation and export; 0 turns it off.")
flags.DEFINE_integer("ema_start", _DEFAULTS.ema_start, "The step from which the moving average (--ema_decay) "
                     "averages; before it, it is a copy of the generator, so the random initial weights and "
                     "the first fast-changing steps do not linger in it (BigGAN: 20,000 of 150,000). 0: "
                     "average from the first step.")
flags.DEFINE_enum("optimizer", _DEFAULTS.optimizer, list(optimizers.OPTIMIZERS),
                  "Optimizer of both networks (each has its own instance and learning rate). beta_1/beta_2 "
                  "apply to adam; rmsprop and sgd use their Keras defaults otherwise.")
flags.DEFINE_enum("update_scheme", _DEFAULTS.update_scheme, list(gan.UPDATE_SCHEMES),
                  described(gan.UPDATE_SCHEMES))
flags.DEFINE_integer("d_steps", _DEFAULTS.d_steps, "Discriminator updates per generator update, each on its "
                     "own batch of real data (a step then consumes d_steps batches).")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size (over all replicas).")
flags.DEFINE_integer("train_steps", _DEFAULTS.train_steps, "The run's length in train steps; 0: --epochs, or "
                     "else --train_images, decides it.")
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "The run's length in passes over the training set, when "
                     "--train_steps is 0; 0: --train_images decides it.")
flags.DEFINE_integer("train_images", _DEFAULTS.train_images, "The run's length in real images the "
                     "discriminator sees (--d_steps batches a step), when --train_steps and --epochs are 0: "
                     "the recommended recipe's length whatever the data set's size (1,200,000: 20 epochs of "
                     "Fashion-MNIST). Rounded up to whole --steps_per_execution calls.")
flags.DEFINE_float("train_minutes", _DEFAULTS.train_minutes, "Stop after this many minutes of training in this "
                   "process (evaluation time not counted), with a checkpoint; 0: no time limit.")
flags.DEFINE_float("g_learning_rate", _DEFAULTS.g_learning_rate, "Generator learning rate.")
flags.DEFINE_float("d_learning_rate", _DEFAULTS.d_learning_rate, "Discriminator learning rate (a higher one "
                   "than G's is the two time-scale update rule, TTUR).")
flags.DEFINE_enum("lr_schedule", _DEFAULTS.lr_schedule, list(schedules.LR_SCHEDULES),
                  "Learning rate of both optimizers over the run's length (--train_steps, --epochs or --train_images): constant; "
                  "linear, falling in a straight line to zero at the last step (SNGAN's recipe); cosine, half "
                  "a cosine to zero. With a decay, --g_learning_rate/--d_learning_rate are the peak rates at "
                  "the first step. A run stopped early (--train_minutes) stops before the rate reaches zero.")
flags.DEFINE_float("beta_1", _DEFAULTS.beta_1, "Adam beta_1 of both optimizers.")
flags.DEFINE_float("beta_2", _DEFAULTS.beta_2, "Adam beta_2 of both optimizers.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed of weights, data order and the noise stream.")
flags.DEFINE_bool("deterministic", _DEFAULTS.deterministic, "Enable TF op determinism (bitwise "
                  "reproducible runs on CPU, slower).")
