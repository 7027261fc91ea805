"""The break-it run (scripts/break_it.py): its judge, CI's quick subset, and the full
run's committed report (docs/RELIABILITY.md)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import break_it  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

CLEAN = "Tracebacks: 0. Silent changes: 0. Data loss: 0."


def test_the_judge_flags_tracebacks_acceptance_and_changed_files(tmp_path):
  watched = tmp_path / "data.npz"
  watched.write_bytes(b"before")
  digest = {str(watched): break_it._digest(str(watched))}
  refusal = break_it.Case("g", "x", "train", [])
  assert break_it._judge(refusal, 2, "error: --latent_dim must be positive", digest) == "ok"
  assert "traceback" in break_it._judge(
      refusal, 1, "Traceback (most recent call last):\n  ...\nValueError", digest)
  assert "silently accepted" in break_it._judge(refusal, 0, "I... training", digest)
  assert "2 error: lines" in break_it._judge(refusal, 2, "error: a\nerror: b", digest)
  assert "died of signal 11" in break_it._judge(refusal, -11, "", digest)
  watched.write_bytes(b"after")
  assert "silent change" in break_it._judge(refusal, 2, "error: x", digest)
  watched.unlink()
  assert "data loss" in break_it._judge(refusal, 2, "error: x", digest)


def test_every_case_has_a_unique_input_and_the_quick_subset_exists():
  cases = break_it.all_cases()
  assert len(cases) >= 100
  assert len({(c.group, c.what) for c in cases}) == len(cases)
  assert {c.what for c in cases if c.quick} == break_it.QUICK


def test_the_quick_cases_pass(tmp_path):
  report = tmp_path / "reliability.md"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "break_it.py"),
                         "--quick", f"--output={report}"],
                        capture_output=True, text=True, cwd=tmp_path, timeout=900)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
  assert CLEAN in report.read_text()


def test_the_committed_report_is_a_clean_full_run():
  with open(os.path.join(ROOT, "docs", "RELIABILITY.md")) as f:
    text = f.read()
  counted = re.search(r"\*\*(\d+) cases: (\d+) passed", text)
  assert counted and int(counted[1]) == int(counted[2]) == len(break_it.all_cases())
  assert CLEAN in text
  rows = [l for l in text.splitlines() if re.match(r"\| \d+ \|", l)]
  assert len(rows) == len(break_it.all_cases()) and all(l.endswith("| ok |") for l in rows)
