"""The presets. Each function returns a complete Config; its first docstring line is
what `--list_presets` and the README show."""

from aae_tf.config import Config
from aae_tf.configs import preset


@preset
def paper_table1() -> Config:
  """Paper Table 1 / first seed: 8-D Gaussian AAE (std 5), 784-1000-1000, MSE, batch 100."""
  # Paper appendix: two 1000-unit ReLU layers everywhere, linear code, sigmoid output,
  # N(0, 0.01) weights, batch 100, Euclidean reconstruction, prior std 5 on MNIST.
  return Config(latent_dim=8, prior_std=5.0, reconstruction_loss="mse",
                weight_init="normal:0.01", batch_size=100, epochs=100.0,
                optimizer="adam", reconstruction_lr=1e-4, discriminator_lr=5e-5,
                generator_lr=5e-5, momentum=0.5)


@preset
def seed2_mnist() -> Config:
  """Second seed: 2-D latent, dropout 0.25/0.2, BCE, Adam 5e-4 / 1e-4, MNIST."""
  return Config(latent_dim=2, prior_std=1.0, encoder_hidden=(512, 256),
                decoder_hidden=(256, 512), discriminator_hidden=(256, 128),
                encoder_dropout=0.25, decoder_dropout=0.25, discriminator_dropout=0.2,
                reconstruction_loss="bce", optimizer="adam", momentum=0.9,
                reconstruction_lr=5e-4, discriminator_lr=1e-4, generator_lr=1e-4,
                batch_size=100, epochs=50.0, figures_every_epochs=5.0)


@preset
def seed2_fashion_mnist() -> Config:
  """Second seed on Fashion-MNIST: 2-D latent, dropout, BCE, Adam 5e-4 / 1e-4."""
  return seed2_mnist().replace(dataset="fashion_mnist")


@preset
def smoke() -> Config:
  """Tiny networks and a few steps, for tests and a quick check of an installation."""
  return Config(latent_dim=2, encoder_hidden=(16,), decoder_hidden=(16,),
                discriminator_hidden=(16,), batch_size=10, train_steps=6, steps_per_loop=3,
                summary_every_steps=3, checkpoint_every_steps=3, figures_every_epochs=1.0,
                validation_size=10, optimizer="adam", reconstruction_lr=1e-3,
                discriminator_lr=1e-3, generator_lr=1e-3, allow_download=False)
