"""`aae-train --help` shows the flags a first run needs with the chosen preset's values;
`--helpfull` shows every flag the same way; both exit 0 without importing TensorFlow."""

import sys

from aae_tf import configs
from aae_tf import main
from tests import helpers


def _flag_lines(text):
  return [line.strip() for line in text.splitlines() if line.startswith("  --")]


def test_help_lists_the_key_flags_with_the_presets_values():
  text = main.help_text(["--preset=seed2_mnist"], full=False)
  names = [line[2:].split("=", 1)[0] for line in _flag_lines(text)]
  assert names == list(main.KEY_FLAGS)
  seed2 = configs.get("seed2_mnist")
  assert f"  --epochs={seed2.runtime.epochs}" in text
  assert f"  --epochs={configs.get('paper_table1').runtime.epochs}" in main.help_text([], full=False)
  assert "--helpfull" in text


def test_helpfull_lists_every_flag_with_the_presets_values():
  text = main.help_text(["--preset", "paper_table2_100"], full=True)
  config = configs.get("paper_table2_100")
  assert f"  --num_labels={config.data.num_labels}" in text
  assert f"  --encoder_hidden={','.join(map(str, config.model.encoder_hidden))}" in text
  assert "--data_shape" not in text          # derived from the data, not a flag
  assert "--flagfile" in text


def test_help_command_exits_0_without_tensorflow(tmp_path):
  probe = ("import sys, runpy; sys.argv = ['aae-train', '--preset=smoke', '--help']\n"
           "from aae_tf import main\n"
           "try:\n    main.console_main()\nexcept SystemExit as e:\n"
           "    assert e.code == 0, e.code\n"
           "assert 'tensorflow' not in sys.modules, 'TensorFlow imported for --help'\n")
  proc = helpers.run_command([sys.executable, "-c", probe], cwd=str(tmp_path))
  assert proc.returncode == 0, helpers.describe(proc)
  assert "  --batch_size=10" in proc.stdout     # smoke's value, not the base config's
