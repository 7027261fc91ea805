"""The AAE training step, written once for every variant.

Per batch, in the paper's order:
  1. reconstruction: encoder + decoder minimise the reconstruction loss;
  2. regularisation: each adversary's discriminator learns prior samples (real) from
     encoder codes (fake); then the encoder, as generator, learns to fool them all.
Each update has its own `tf.GradientTape` that watches only its own variables, and its
own optimizer. Losses are per-example values averaged over the *global* batch, so N
replicas take exactly the steps one replica takes.

Randomness (prior samples, dropout masks) is stateless and keyed by (seed, global step):
resuming from a checkpoint replays exactly the same draws. Prior samples are drawn for
the global batch and sliced per replica, so they do not depend on the replica count.
"""

from typing import Dict, List

import keras
import tensorflow as tf

from aae_tf import losses
from aae_tf import models
from aae_tf import priors
from aae_tf import rng
from aae_tf import variants

# Sub-streams of the per-step seed: one per consumer, so no two share random numbers.
_RECONSTRUCTION_DROPOUT, _REGULARISATION_DROPOUT, _DISCRIMINATOR_DROPOUT = 1, 2, 3
_PRIOR_SAMPLES = 10


def make_optimizer(config, learning_rate: float, steps_per_epoch: int):
  """One Keras optimizer with the config's schedule and clipping."""
  schedule = float(learning_rate)
  if config.lr_decay_epochs:
    boundaries = [int(round(e * steps_per_epoch)) for e in config.lr_decay_epochs]
    values = [learning_rate * config.lr_decay_factor ** i for i in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
  clip = {"global_clipnorm": config.gradient_clip_norm} if config.gradient_clip_norm else {}
  if config.optimizer == "adam":
    return keras.optimizers.Adam(schedule, beta_1=config.momentum, **clip)
  if config.optimizer == "sgd":
    return keras.optimizers.SGD(schedule, momentum=config.momentum, **clip)
  if config.optimizer == "rmsprop":
    return keras.optimizers.RMSprop(schedule, **clip)
  raise ValueError(f"unknown optimizer {config.optimizer!r}; use adam, sgd or rmsprop")


class Trainer(tf.Module):
  """Owns the networks, optimizers and global step of one run, and steps them."""

  def __init__(self, config, strategy: tf.distribute.Strategy, steps_per_epoch: int):
    super().__init__(name="trainer")
    self.config = config
    self.strategy = strategy
    self.spec = variants.get_variant(config.variant)
    self.prior = priors.make_prior(config)
    self._reconstruction_loss = losses.RECONSTRUCTION_LOSSES[config.reconstruction_loss]
    with strategy.scope():
      self.networks = models.build_networks(config, self.spec)
      # Counts batches, not updates: every batch makes several.
      self.global_step = tf.Variable(
          0, dtype=tf.int64, trainable=False, name="global_step",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
      self.phase_variables = self._phase_variables()
      lr = {"reconstruction": config.reconstruction_lr, "generator": config.generator_lr}
      self.optimizers = {
          phase: make_optimizer(config, lr.get(phase, config.discriminator_lr), steps_per_epoch)
          for phase in self.phase_variables
      }
      # Built eagerly inside the scope: slots become mirrored, and one trace suffices.
      for phase, optimizer in self.optimizers.items():
        optimizer.build(self.phase_variables[phase])
    self._step_fn = (tf.function(self._replica_step, jit_compile=True)
                     if config.jit else self._replica_step)

  # --- structure ----------------------------------------------------------------------

  def _phase_variables(self) -> Dict[str, List[tf.Variable]]:
    """Phase name -> the only variables that phase may change."""
    net = self.networks
    phases = {"reconstruction": list(net.encoder.trainable_variables)
                                + list(net.decoder.trainable_variables)}
    for adversary in self.spec.adversaries:
      phases[f"discriminator_{adversary.name}"] = list(
          net.discriminators[adversary.name].trainable_variables)
    phases["generator"] = list(net.encoder.trainable_variables)
    return phases

  @property
  def metric_names(self) -> List[str]:
    names = ["reconstruction_loss"]
    for adversary in self.spec.adversaries:
      names += [f"discriminator_{adversary.name}_loss",
                f"discriminator_{adversary.name}_accuracy_real",
                f"discriminator_{adversary.name}_accuracy_fake"]
    return names + ["generator_loss"]

  def checkpoint_items(self):
    return dict(self.networks.checkpoint_items(), optimizers=dict(self.optimizers),
                global_step=self.global_step)

  # --- one step on one replica -------------------------------------------------------

  def _global_mean(self, per_example):
    return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)

  def _apply(self, phase: str, tape: tf.GradientTape, loss):
    variables = self.phase_variables[phase]
    gradients = tape.gradient(loss, variables)
    self.optimizers[phase].apply_gradients(zip(gradients, variables))

  def _replica_step(self, batch) -> Dict[str, tf.Tensor]:
    """One batch on one replica: all phases. Returns this replica's metric shares."""
    images = tf.cast(batch["image"], tf.float32) / 255.0
    replica = tf.distribute.get_replica_context()
    replica_id = tf.cast(replica.replica_id_in_sync_group, tf.int64)
    step_seed = rng.fold_in(rng.make_seed(self.config.seed), self.global_step)

    def seed_for(stream, per_replica=True):
      seed = rng.fold_in(step_seed, stream)
      return rng.fold_in(seed, replica_id) if per_replica else seed

    metrics = self._reconstruction_phase(images, seed_for(_RECONSTRUCTION_DROPOUT))

    encoder_vars = self.phase_variables["generator"]
    with tf.GradientTape(watch_accessed_variables=False) as generator_tape:
      generator_tape.watch(encoder_vars)
      # One encoder forward serves both regularisation updates: the discriminator
      # update does not change the encoder, so the codes are the same either way.
      codes = self.networks.encoder(images, seed_for(_REGULARISATION_DROPOUT))
      with generator_tape.stop_recording():
        for i, adversary in enumerate(self.spec.adversaries):
          real = self._prior_samples(adversary, tf.shape(images)[0], replica_id,
                                     seed_for(_PRIOR_SAMPLES + i, per_replica=False))
          metrics.update(self._discriminator_phase(
              adversary, real, tf.stop_gradient(codes[adversary.head]),
              seed_for(_DISCRIMINATOR_DROPOUT)))
      generator_loss = tf.add_n([
          self._global_mean(losses.generator(
              self.networks.discriminators[a.name](codes[a.head])))
          for a in self.spec.adversaries])
    self._apply("generator", generator_tape, generator_loss)
    metrics["generator_loss"] = generator_loss
    return metrics

  def _reconstruction_phase(self, images, dropout_seed):
    net = self.networks
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.phase_variables["reconstruction"])
      codes = net.encoder(images, dropout_seed)
      decoder_input = tf.concat([codes[name] for name in self.spec.decoder_inputs], axis=1)
      logits = net.decoder(decoder_input, rng.fold_in(
          dropout_seed, 1))
      loss = self._global_mean(self._reconstruction_loss(images, logits))
    self._apply("reconstruction", tape, loss)
    return {"reconstruction_loss": loss}

  def _prior_samples(self, adversary, per_replica_batch, replica_id, seed):
    """This replica's rows of a global-batch draw from the adversary's prior."""
    global_draw = self.prior.sample(self.config.batch_size, seed)
    rows = tf.range(per_replica_batch, dtype=tf.int64) + replica_id * tf.cast(
        per_replica_batch, tf.int64)
    return tf.gather(global_draw, rows)

  def _discriminator_phase(self, adversary, real, fake, dropout_seed):
    discriminator = self.networks.discriminators[adversary.name]
    phase = f"discriminator_{adversary.name}"
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.phase_variables[phase])
      real_logits = discriminator(real, dropout_seed)
      fake_logits = discriminator(fake, rng.fold_in(dropout_seed, 1))
      loss = self._global_mean(losses.discriminator(real_logits, fake_logits))
    self._apply(phase, tape, loss)
    return {f"{phase}_loss": loss,
            f"{phase}_accuracy_real": self._global_mean(losses.accuracy(real_logits, True)),
            f"{phase}_accuracy_fake": self._global_mean(losses.accuracy(fake_logits, False))}

  # --- the host-facing loop ----------------------------------------------------------

  @tf.function
  def train_loop(self, iterator, num_steps):
    """Runs `num_steps` batches in one call; returns each metric's mean over them."""
    totals = {name: tf.constant(0.0) for name in self.metric_names}
    for _ in tf.range(num_steps):
      per_replica = self.strategy.run(self._step_fn, args=(next(iterator),))
      # Each replica's value is its share of the global mean: summing gives the mean.
      # (A new dict, not item assignment: autograph carries reassigned loop variables.)
      totals = {name: total + self.strategy.reduce(
          tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                for name, total in totals.items()}
      self.global_step.assign_add(1)
    return {name: total / tf.cast(num_steps, tf.float32) for name, total in totals.items()}

  # --- inference helpers (cross-replica; used for figures and tests) ------------------

  @tf.function
  def encode(self, images):
    return self.networks.encoder(tf.cast(images, tf.float32))

  @tf.function
  def decode(self, codes):
    return tf.reshape(tf.sigmoid(self.networks.decoder(codes)), [-1, *models.IMAGE_SHAPE])
