"""The benchmark's report logic (timings themselves are never asserted)."""

from benchmarks import benchmark


def test_markdown_reports_ratios_against_both_baselines():
  def row(name, rate):
    return {"name": name, "batch_size": 100, "images_per_second": rate,
            "epoch_seconds": 60_000 / rate, "peak_rss_mb": 900.0}
  table = benchmark.markdown(
      [row("keras_classic", 1000.0), row("plain_function", 1500.0), row("aae_tf_xla", 3000.0)],
      {"sample_10000_images_per_second": 50_000.0, "parzen_10k_x_10k_seconds": None},
      machine="test machine", command="python benchmarks/benchmark.py")
  line = next(l for l in table.splitlines() if l.startswith("| aae_tf_xla"))
  assert "| 3.00× | 2.00× |" in line and "| 20.0 |" in line
  assert "| parzen_10k_x_10k_seconds | — |" in table
  assert "Command: `python benchmarks/benchmark.py`" in table


def test_every_training_configuration_has_a_known_kind():
  kinds = {kind for kind, _ in benchmark.TRAINING_CONFIGS.values()}
  assert kinds == {"keras_classic", "plain_function", "ours"}


def test_report_rewrites_only_the_table_and_keeps_the_prose(tmp_path):
  path = str(tmp_path / "BENCHMARKS.md")
  benchmark.write_report(path, "| old |\n")
  text = open(path).read()
  assert text.startswith("# Benchmarks") and "| old |" in text
  with open(path, "w") as f:
    f.write(text.replace("# Benchmarks", "# Benchmarks\n\nHow we measured.") + "\nReading it.\n")
  benchmark.write_report(path, "| new |\n")
  text = open(path).read()
  assert "| new |" in text and "| old |" not in text
  assert "How we measured." in text and text.endswith("Reading it.\n")


def test_machine_line_names_the_bf16_flags_and_the_auto_choice():
  line = benchmark._machine()
  assert "bf16 CPU flags:" in line and "`--precision=auto` chooses" in line
  assert "TensorFlow" in line
