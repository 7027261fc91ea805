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

import numpy as np
import tensorflow as tf

from aae_tf import input_pipeline
from aae_tf import losses
from aae_tf import models
from aae_tf import optimizers
from aae_tf import priors
from aae_tf import rng
from aae_tf import variants

# Sub-streams of the per-step seed: one per consumer, so no two share random numbers.
_RECONSTRUCTION_DROPOUT, _REGULARISATION_DROPOUT, _DISCRIMINATOR_DROPOUT = 1, 2, 3
_SUPERVISED_DROPOUT, _INPUT_NOISE, _DISCRIMINATOR_NOISE = 4, 5, 6
_POSTERIOR = 7  # a stochastic q(z|x)'s draws (+0 reconstruction, +1 regularisation, +2 supervised)
_STYLE_DROPOUT = 8
_SHIFT = 9
_PRIOR_SAMPLES = 10


def make_optimizer(config, learning_rate: float, steps_per_epoch: int,
                   momentum: float = None, kind: str = None, decay_factor: float = None):
  """One fused optimizer (aae_tf.optimizers) with the config's schedule (its rate
  multiplied by `decay_factor`, default lr_decay_factor, at each lr_decay_epochs)."""
  momentum = config.training.momentum if momentum is None else momentum
  kind = kind or config.training.optimizer
  decay_factor = config.training.lr_decay_factor if decay_factor is None else decay_factor
  schedule = float(learning_rate)
  if config.training.lr_decay_epochs:
    boundaries = [int(round(e * steps_per_epoch)) for e in config.training.lr_decay_epochs]
    values = [learning_rate * decay_factor ** i for i in range(len(boundaries) + 1)]
    schedule = optimizers.piecewise_constant(boundaries, values)
  if kind == "adam":
    return optimizers.Adam(schedule, beta_1=momentum)
  if kind == "sgd":
    return optimizers.SGD(schedule, momentum=momentum)
  if kind == "rmsprop":
    return optimizers.RMSprop(schedule)
  raise ValueError(f"unknown optimizer {kind!r}; use adam, sgd or rmsprop")


class Trainer(tf.Module):
  """Owns the networks, optimizers and global step of one run, and steps them."""

  def __init__(self, config, strategy: tf.distribute.Strategy, steps_per_epoch: int):
    super().__init__(name="trainer")
    self.config = config
    self.strategy = strategy
    self.spec = variants.spec_for(config)
    self.prior = priors.make_prior(config)
    self.category_prior = priors.Categorical(num_components=config.model.num_categories)
    # The step from which the z adversary reads the category (0: from the start).
    self._category_reading_start_step = int(round(
        config.training.category_reading_start_epoch * steps_per_epoch))
    loss_fn = losses.RECONSTRUCTION_LOSSES[config.training.reconstruction_loss]
    self._reconstruction_loss = lambda images, logits: loss_fn(
        images, logits, config.training.reconstruction_scale)
    with strategy.scope():
      self.networks = models.build_networks(config, self.spec)
      # Counts batches, not updates: every batch makes several.
      self.global_step = tf.Variable(
          0, dtype=tf.int64, trainable=False, name="global_step",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
      self.phase_variables = self._phase_variables()
      self.optimizers = {phase: self._make_optimizer(phase, steps_per_epoch)
                         for phase in self.phase_variables}
      # Built eagerly inside the scope: slots become mirrored, and one trace suffices.
      for phase, optimizer in self.optimizers.items():
        optimizer.build(self.phase_variables[phase])
    self._update_fns = {phase: self._make_update_fn(phase) for phase in self.optimizers}
    self._step_fn = (tf.function(self._replica_step, jit_compile=True)
                     if config.runtime.jit else self._replica_step)

  # --- structure ----------------------------------------------------------------------

  def _make_optimizer(self, phase: str, steps_per_epoch: int):
    config = self.config
    lr = {"reconstruction": config.training.reconstruction_lr, "generator": config.training.generator_lr,
          "supervised": config.training.supervised_lr}.get(phase, config.training.discriminator_lr)
    adversarial = phase == "generator" or phase.startswith("discriminator_")
    # The adversarial pair's own setting where it has one (-1: the shared one).
    own = lambda value, shared: value if adversarial and value >= 0 else shared
    training = config.training
    momentum = own(training.adversarial_momentum, training.momentum)
    decay = own(training.adversarial_lr_decay_factor, training.lr_decay_factor)
    kind = (training.adversarial_optimizer or training.optimizer) if adversarial else None
    return make_optimizer(config, lr, steps_per_epoch, momentum, kind, decay)

  def _phase_variables(self) -> Dict[str, List[tf.Variable]]:
    """Phase name -> the only variables that phase may change."""
    net = self.networks
    encoder = list(net.encoder.trainable_variables)
    if self.config.training.category_reconstruction_gradient == 0 and "y" in net.encoder.heads:
      # No reconstruction gradient reaches the category head: its variables leave the
      # phase (no zero updates, no optimizer slots for them).
      head = {id(v) for module in (net.encoder.heads["y"], net.encoder.head_norms.get("y"))
              if module is not None for v in module.trainable_variables}
      encoder = [v for v in encoder if id(v) not in head]
    phases = {"reconstruction": encoder + list(net.decoder.trainable_variables)}
    for adversary in self.spec.adversaries:
      phases[f"discriminator_{adversary.name}"] = list(
          net.discriminators[adversary.name].trainable_variables)
    phases["generator"] = list(net.encoder.trainable_variables)
    if self.spec.supervised_phase:
      phases["supervised"] = list(net.encoder.trunk.trainable_variables) + list(
          net.encoder.heads["y"].trainable_variables)
    return phases

  @property
  def metric_names(self) -> List[str]:
    names = ["reconstruction_loss"]
    if self.spec.cluster_head_penalty:
      names.append("cluster_head_penalty")
    for adversary in self.spec.adversaries:
      names += [f"discriminator_{adversary.name}_loss",
                f"discriminator_{adversary.name}_accuracy_real",
                f"discriminator_{adversary.name}_accuracy_fake"]
    names.append("generator_loss")
    if self.config.training.category_shift_consistency:
      names.append("category_consistency_loss")
    if self.spec.supervised_phase:
      names += ["supervised_loss", "supervised_accuracy"]
    return names

  @tf.function
  def weights_are_finite(self):
    """Whether every network weight is finite (checked after every loop, so no save
    stores them: a loss is computed before its step's update, so finite losses do not
    prove finite weights)."""
    variables = [v for variables in self.phase_variables.values() for v in variables]
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in variables])

  def checkpoint_items(self):
    return dict(self.networks.checkpoint_items(), optimizers=dict(self.optimizers),
                global_step=self.global_step)

  # --- one step on one replica -------------------------------------------------------

  def _global_mean(self, per_example):
    return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.training.batch_size)

  def _apply(self, phase: str, tape: tf.GradientTape, loss):
    variables = self.phase_variables[phase]
    gradients = tape.gradient(loss, variables)
    self._update_fns[phase](gradients)

  def _make_update_fn(self, phase: str):
    """gradients -> optimizer update of the phase's variables (XLA with --jit_updates)."""
    optimizer, variables = self.optimizers[phase], self.phase_variables[phase]
    def update(gradients):
      optimizer.apply_gradients(zip(gradients, variables))
    if self.config.runtime.jit_updates and not self.config.runtime.jit:
      return tf.function(update, jit_compile=True)
    return update

  def _replica_step(self, batch) -> Dict[str, tf.Tensor]:
    """One batch on one replica: all phases. Returns this replica's metric shares."""
    images = input_pipeline.unit_float(batch["image"])
    labels = batch["label"]  # -1 where the example counts as unlabelled
    replica = tf.distribute.get_replica_context()
    replica_id = tf.cast(replica.replica_id_in_sync_group, tf.int64)
    step_seed = rng.fold_in(rng.make_seed(self.config.training.seed), self.global_step)

    def seed_for(stream, per_replica=True):
      seed = rng.fold_in(step_seed, stream)
      return rng.fold_in(seed, replica_id) if per_replica else seed

    encoder_input = self._corrupted(images, seed_for(_INPUT_NOISE))
    labelled = None
    if self.spec.supervised_phase:
      labelled_images = input_pipeline.unit_float(batch["labelled_image"])
      labelled = (labelled_images, batch["labelled_label"],
                  self._corrupted(labelled_images, seed_for(_INPUT_NOISE + 100)))
    metrics = self._reconstruction_phase(
        encoder_input, images, labels, seed_for(_RECONSTRUCTION_DROPOUT),
        self._posterior_seed(seed_for(_POSTERIOR)), seed_for(_STYLE_DROPOUT))
    metrics.update(self._regularisation_phase(encoder_input, labels, replica, replica_id,
                                              seed_for))
    if labelled is not None:
      metrics.update(self._supervised_phase(
          labelled[2], labelled[1], seed_for(_SUPERVISED_DROPOUT),
          self._posterior_seed(rng.fold_in(seed_for(_POSTERIOR), 2))))
    return metrics

  def _posterior_seed(self, seed):
    """The seed of q(z|x)'s draw, or None for a deterministic encoder."""
    return seed if self.networks.encoder.stochastic else None

  def _corrupted(self, images, seed):
    """The encoder's training input: Gaussian noise, then dropout, as configured."""
    x = self._noisy(images, self.config.training.input_noise_std, seed)
    rate = self.config.training.input_dropout
    return rng.dropout(x, rate, rng.fold_in(seed, 1)) if rate > 0 else x

  @staticmethod
  def _noisy(x, std, seed):
    return x + std * rng.normal(tf.shape(x), seed) if std > 0 else x

  def _category(self, codes, labels):
    """The [N, K] category the decoder reads: a one-hot label or q(y|x); None if none."""
    if self.spec.decoder_reads_true_label:
      return tf.one_hot(labels, self.config.model.num_categories)
    if self.spec.decoder_reads_y:
      categories = tf.nn.softmax(codes["y"])
      share = self.config.training.category_reconstruction_gradient
      if share < 1.0:
        # Forward value unchanged; the backward pass carries `share` of the gradient.
        return share * categories + (1.0 - share) * tf.stop_gradient(categories)
      return categories
    return None

  def _reconstruction_phase(self, encoder_input, images, labels, dropout_seed,
                            posterior_seed, style_seed):
    """Squared error (or BCE) of decoder(encoder(x)), plus Fig. 10's cluster-head penalty."""
    metrics = {}
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.phase_variables["reconstruction"])
      loss = self._rebuilt_loss(encoder_input, images, labels, dropout_seed, posterior_seed,
                                style_seed)
      total = loss
      if self.spec.cluster_head_penalty:
        penalty = self._cluster_head_penalty()
        # A per-batch term, not per-example: each replica adds its 1/N share.
        total += tf.nn.scale_regularization_loss(penalty)
        metrics["cluster_head_penalty"] = tf.nn.scale_regularization_loss(penalty)
    self._apply("reconstruction", tape, total)
    metrics["reconstruction_loss"] = loss
    return metrics

  def _rebuilt_loss(self, encoder_input, images, labels, dropout_seed, posterior_seed,
                    style_seed):
    """The batch's mean reconstruction loss, the decoder reading the variant's category."""
    codes = self.networks.encoder(encoder_input, dropout_seed, posterior_seed)
    logits = self.networks.decoder(self._hide_style(codes["z"], style_seed),
                                   self._category(codes, labels), rng.fold_in(dropout_seed, 1))
    return self._global_mean(self._reconstruction_loss(images, logits))

  def _hide_style(self, z, seed):
    """z with the rows of a `style_dropout` share of the examples zeroed (the prior's
    centre). Those examples are rebuilt from the category alone, so the category must
    carry the content; without this a rich enough z carries it and the decoder learns
    to ignore the category (the clustering and style/content failure)."""
    rate = self.config.training.style_dropout
    if rate <= 0:
      return z
    keep = rng.uniform(tf.stack([tf.shape(z)[0], 1]), seed) >= rate
    return z * tf.cast(keep, z.dtype)

  def _shifted(self, images, seed):
    """Each [H, W] or [H, W, C] image moved by its own whole-pixel offset of up to
    `shift_pixels` per axis, the uncovered border zero (the background of the paper's
    digits); then turned and scaled (`_warped`) when the config asks for it."""
    s = self.config.training.shift_pixels
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [s, s], [s, s]] + [[0, 0]] * (images.shape.rank - 3))
    offsets = rng.uniform(tf.stack([tf.shape(images)[0], 2]), seed, 0, 2 * s + 1, tf.int32)
    rows = offsets[:, :1] + tf.range(height)
    columns = offsets[:, 1:] + tf.range(width)
    moved = tf.gather(padded, rows, axis=1, batch_dims=1)
    moved = tf.gather(moved, columns, axis=2, batch_dims=1)
    if self.config.training.shift_rotation_degrees or self.config.training.shift_zoom:
      moved = self._warped(moved, rng.fold_in(seed, 1))
    return moved

  def _warped(self, images, seed):
    """Each image turned by its own angle within +-`shift_rotation_degrees` and scaled by
    a factor within 1 +- `shift_zoom` about its centre: bilinear, zero outside. Written
    with gathers (not ImageProjectiveTransform) so it also compiles under --jit."""
    config = self.config.training
    channels_last = images.shape.rank == 4
    x = images if channels_last else images[..., tf.newaxis]
    n, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    draws = rng.uniform(tf.stack([n, 2]), seed, -1.0, 1.0)
    angle = draws[:, 0] * (config.shift_rotation_degrees * np.pi / 180.0)
    scale = 1.0 + draws[:, 1] * config.shift_zoom
    cos = (tf.cos(angle) / scale)[:, None, None]
    sin = (tf.sin(angle) / scale)[:, None, None]
    centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32) - centre_y,
                         tf.range(width, dtype=tf.float32) - centre_x, indexing="ij")
    # Where each output pixel reads from (the inverse map), +1 for the zero border below;
    # coordinates past it clip onto the border, so they read zero.
    source_y = tf.clip_by_value(cos * ys - sin * xs + centre_y + 1.0, 0.0, height + 1.0)
    source_x = tf.clip_by_value(sin * ys + cos * xs + centre_x + 1.0, 0.0, width + 1.0)
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    flat = tf.reshape(padded, tf.stack([n, (height + 2) * (width + 2), tf.shape(x)[3]]))
    top, left = tf.floor(source_y), tf.floor(source_x)
    down, right = source_y - top, source_x - left

    def at(row, column):
      row = tf.cast(tf.minimum(row, height + 1.0), tf.int32)
      column = tf.cast(tf.minimum(column, width + 1.0), tf.int32)
      return tf.gather(flat, row * (width + 2) + column, batch_dims=1)

    weight = lambda w: tf.cast(w, x.dtype)[..., tf.newaxis]
    warped = (weight((1 - down) * (1 - right)) * at(top, left)
              + weight((1 - down) * right) * at(top, left + 1)
              + weight(down * (1 - right)) * at(top + 1, left)
              + weight(down * right) * at(top + 1, left + 1))
    return warped if channels_last else warped[..., 0]

  def _cluster_head_penalty(self):
    """sum over pairs of max(0, eta - ||W_i - W_j||): pushes cluster heads apart."""
    heads = self.networks.decoder.cluster_heads
    first, second = np.triu_indices(self.config.model.num_categories, k=1)
    difference = tf.gather(heads, first) - tf.gather(heads, second)
    distance = tf.sqrt(tf.reduce_sum(tf.square(difference), axis=1) + 1e-12)
    return self.config.training.cluster_head_weight * tf.reduce_sum(
        tf.nn.relu(self.config.training.cluster_head_threshold - distance))

  def _regularisation_phase(self, encoder_input, labels, replica, replica_id, seed_for):
    """Each discriminator learns prior (real) from codes (fake); then the encoder fools them."""
    metrics = {}
    conditioned = self.spec.prior_takes_label
    global_labels = replica.all_gather(labels, axis=0) if conditioned else None
    with tf.GradientTape(watch_accessed_variables=False) as generator_tape:
      generator_tape.watch(self.phase_variables["generator"])
      # One encoder forward serves both updates: the discriminator update does not
      # change the encoder, so the codes are the same either way.
      weight = self.config.training.category_shift_consistency
      inputs = encoder_input
      if weight:
        # One pass over [x; shift(x)]: the shifted copies share the batch (and its
        # head batch norm statistics) with the originals.
        inputs = tf.concat([encoder_input, self._shifted(encoder_input, seed_for(_SHIFT))], 0)
      codes = self.networks.encoder(inputs, seed_for(_REGULARISATION_DROPOUT),
                                    self._posterior_seed(rng.fold_in(seed_for(_POSTERIOR), 1)))
      if weight:
        n = tf.shape(encoder_input)[0]
        shifted_logits = codes["y"][n:]
        codes = {head: code[:n] for head, code in codes.items()}
        consistency = self._global_mean(losses.category_consistency(codes["y"], shifted_logits))
        metrics["category_consistency_loss"] = consistency
      category = None
      if any(a.reads_category for a in self.spec.adversaries):
        category = tf.stop_gradient(tf.one_hot(
            tf.argmax(codes["y"], axis=1), self.config.model.num_categories))
        if self._category_reading_start_step > 0:
          # Zeros before the start: the adversary is blind to the category until then.
          category *= tf.cast(self.global_step >= self._category_reading_start_step,
                              category.dtype)
      generator_losses = []
      for i, adversary in enumerate(self.spec.adversaries):
        real = self._prior_samples(adversary, global_labels, tf.shape(labels)[0], replica_id,
                                   seed_for(_PRIOR_SAMPLES + i, per_replica=False))
        fake = codes["z"] if adversary.head == "z" else tf.nn.softmax(codes["y"])
        real, fake = self._discriminator_inputs(adversary, real, fake, labels, category,
                                                seed_for(_DISCRIMINATOR_NOISE + 10 * i))
        with generator_tape.stop_recording():
          metrics.update(self._discriminator_phase(
              adversary, real, tf.stop_gradient(fake), seed_for(_DISCRIMINATOR_DROPOUT)))
        generator_losses.append(self._global_mean(losses.generator(
            self.networks.discriminators[adversary.name](fake))))
      generator_loss = tf.add_n(generator_losses)
      total = generator_loss + weight * consistency if weight else generator_loss
    self._apply("generator", generator_tape, total)
    metrics["generator_loss"] = generator_loss
    return metrics

  def _prior_samples(self, adversary, global_labels, per_replica_batch, replica_id, seed):
    """This replica's rows of a global-batch draw from the adversary's prior.

    Drawing the whole global batch and slicing makes the samples independent of the
    replica count; a conditioned prior draws each row from that row's class component.
    """
    prior = self.category_prior if adversary.prior == "categorical" else self.prior
    global_draw = prior.sample(self.config.training.batch_size, seed,
                               global_labels if adversary.conditioned else None)
    rows = tf.range(per_replica_batch, dtype=tf.int64) + replica_id * tf.cast(
        per_replica_batch, tf.int64)
    return tf.gather(global_draw, rows)

  def _discriminator_inputs(self, adversary, real, fake, labels, category, seed):
    """Adds the (K+1)-way label one-hot for conditioned adversaries, the encoder's
    category for those that read it, and input noise."""
    conditions = []
    if adversary.conditioned:
      k = self.config.model.num_categories
      conditions.append(tf.one_hot(tf.where(labels >= 0, labels, k), k + 1))
    if adversary.reads_category:
      conditions.append(category)
    if conditions:
      real, fake = (tf.concat([x, *conditions], axis=1) for x in (real, fake))
    std = self.config.training.discriminator_noise_std
    return self._noisy(real, std, seed), self._noisy(fake, std, rng.fold_in(seed, 1))

  def _discriminator_phase(self, adversary, real, fake, dropout_seed):
    discriminator = self.networks.discriminators[adversary.name]
    phase = f"discriminator_{adversary.name}"
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.phase_variables[phase])
      # One pass over [real; fake]: one weight cast and one gradient matmul, not two.
      logits = discriminator(tf.concat([real, fake], axis=0), dropout_seed)
      real_logits, fake_logits = tf.split(logits, 2, axis=0)
      loss = self._global_mean(losses.discriminator(real_logits, fake_logits))
    self._apply(phase, tape, loss)
    return {f"{phase}_loss": loss,
            f"{phase}_accuracy_real": self._global_mean(losses.accuracy(real_logits, True)),
            f"{phase}_accuracy_fake": self._global_mean(losses.accuracy(fake_logits, False))}

  def _supervised_phase(self, images, labels, dropout_seed, posterior_seed):
    """Cross-entropy of q(y|x) on a labelled batch (semi-supervised variants)."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.phase_variables["supervised"])
      logits = self.networks.encoder(images, dropout_seed, posterior_seed)["y"]
      loss = self._global_mean(losses.classification(labels, logits))
    self._apply("supervised", tape, loss)
    correct = tf.cast(tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), labels),
                      tf.float32)
    return {"supervised_loss": loss, "supervised_accuracy": self._global_mean(correct)}

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
