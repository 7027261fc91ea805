"""aae-explore in a real browser: headless Chromium (Debian's, through Playwright) opens
the page for a small trained export, clicks the map, moves a slider, draws a stroke and
uploads an image of the wrong size (scripts/explorer_screenshots.py holds the steps)."""

import os
import time

import pytest

from aae_tf import configs
from aae_tf import train
from tests import helpers

screenshots = helpers.load_script("scripts/explorer_screenshots.py", "explorer_screenshots")

# CI installs Chromium (.ci/run): there a missing browser is a failure, not a skip.
if not os.path.exists(screenshots.CHROMIUM) and os.environ.get("CI") != "true":
  pytest.skip(f"no Chromium at {screenshots.CHROMIUM} (apt-get install chromium)",
              allow_module_level=True)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("browser")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  config = configs.get("smoke").replace(
      data_dir=data_dir, export_dir=str(root / "export"), validation_size=10,
      variant="clustering", num_categories=4, train_steps=6)
  train.run(config, str(root / "work"), log=lambda _: None)
  return str(root / "export")


def test_the_page_answers_clicks_sliders_drawings_and_bad_uploads(export_dir, tmp_path):
  start = time.perf_counter()
  with screenshots.explorer_server([f"--export_dir={export_dir}"],
                                   env=helpers.hermetic_env()) as server:
    seen = screenshots.drive(server["url"], out=str(tmp_path), name="test",
                             started=server["started"])
  # The map: a click decodes; another click decodes another point.
  assert seen["map_decoded_changed"], seen
  # A slider moved the code and the decoded image.
  assert seen["steer_code"].startswith("z = [-1.50"), seen
  # A stroke: its reconstruction appeared, and the clustering head's probabilities.
  assert "cluster" in seen["probabilities"], seen
  assert seen["code"].startswith("code z = ["), seen
  # An image of another size: one message in the page, naming both sizes.
  assert "45x31 pixels; the model reads 28x28" in seen["wrong_size_message"], seen
  for tab in ("map", "steer", "image"):
    assert (tmp_path / f"explore_test_{tab}.png").stat().st_size > 10_000
  print(f"browser test: {time.perf_counter() - start:.1f} s; {seen}")
