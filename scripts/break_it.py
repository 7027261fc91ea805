"""Break it: bad inputs and faults against tiny runs, one row each, as docs/RELIABILITY.md.

    python scripts/break_it.py                       # every case (~10 min on 2 cores)
    python scripts/break_it.py --quick               # the subset CI runs
    python scripts/break_it.py --output=docs/RELIABILITY.md

Each case runs one command line (aae-train, aae-export, aae-evaluate, aae-explore, through
`aae_tf.console` as the installed scripts do) in a fresh interpreter against small npz
data and a finished 6-step run, and records the exit code and the first line of output.
A case passes when:
  - nothing printed a Python traceback and no process died of a signal it did not ask for;
  - a bad input was refused (exit != 0) with exactly one `error:` line (a stop signal with
    one `stopped:` line); a good-but-odd input ran (exit 0);
  - every file the case watches (the data, a finished run, an export) is byte for byte as
    before: no silent change and no data loss.
The exit code is 0 only when every case passed.
"""

import argparse
import concurrent.futures
import dataclasses
import datetime
import hashlib
import io
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

TIMEOUT_S = 300
ABSL_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")
TF_NOISE = re.compile(r"^[IWEF]0000 00:00:")   # TensorFlow's C++ log lines


@dataclasses.dataclass(frozen=True)
class Case:
  group: str
  what: str                       # the input, in words
  command: str                    # train | export | evaluate | explore
  args: Sequence[str]             # may name {data}, {run}, {export}, {here}, {root}
  expect: str = "refused"         # refused | runs | stopped
  prepare: Optional[Callable[[Dict[str, str]], None]] = None
  watch: Sequence[str] = ("{data}", "{run}")
  interrupt: Optional[tuple] = None   # (seconds after start or a line regex, signal)

  @property
  def quick(self) -> bool:
    return self.what in QUICK


# CI's subset: one or two of each kind, none needing more than a few seconds.
QUICK = {
    "negative latent size", "Adam with momentum 1.5", "seed 2**64", "a misspelt flag",
    "--only_check_args on an invalid config", "a --flagfile saved as UTF-8 with BOM",
    "--workdir where nothing can be written", "a text file named .npz",
    "a label of 2^32 + 3", "zero-size images", "a header declaring 8 TB",
    "a decompression bomb (20000 x 20000, 400 kB)", "16-bit PNGs (scaled, not clipped)",
    "a misspelt TFDS name", "Ctrl-C two seconds in (TensorFlow's import)",
    "the same run again, other data", "an encoder and a decoder of two exports",
    "--output that is a directory", "a version that exists (never overwritten)",
}


# ------------------------------------------------------------------ inputs

def _digits(n: int, seed: int, size: int = 8) -> tuple:
  """Blurry blobs whose position is the class: learnable, tiny, no download."""
  rng = np.random.default_rng(seed)
  labels = np.arange(n) % 10
  yy, xx = np.mgrid[:size, :size]
  centres = np.stack([1.5 + (labels % 5) * (size - 3) / 4, 2 + (labels // 5) * (size - 4)], 1)
  images = np.exp(-((xx[None] - centres[:, :1, None]) ** 2 +
                    (yy[None] - centres[:, 1:, None]) ** 2) / 3.0)
  images = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)
  return (images * 255).astype(np.uint8), labels.astype(np.int64)


def write_good_npz(path: str) -> None:
  x_train, y_train = _digits(200, 0)
  x_test, y_test = _digits(50, 1)
  np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _npz(name: str, **arrays) -> Callable[[Dict[str, str]], None]:
  def prepare(p):
    np.savez(os.path.join(p["here"], name), **arrays)
  return prepare


def _raw(name: str, content: bytes) -> Callable[[Dict[str, str]], None]:
  def prepare(p):
    with open(os.path.join(p["here"], name), "wb") as f:
      f.write(content)
  return prepare


def _huge_header_npz(p):
  """A valid zip holding one .npy whose header declares 10^12 float64 values (8 TB)."""
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(
      header, {"descr": "<f8", "fortran_order": False, "shape": (1000000, 1000, 1000)})
  with zipfile.ZipFile(os.path.join(p["here"], "d.npz"), "w") as z:
    z.writestr("x_train.npy", header.getvalue())


def _folder(images: Dict[str, np.ndarray], mode: Optional[str] = None, extra=None):
  """A class-per-subfolder image folder; `extra` (name -> bytes) adds raw files."""
  def prepare(p):
    root = os.path.join(p["here"], "images")
    for name, array in images.items():
      path = os.path.join(root, name)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      Image.fromarray(array, **({"mode": mode} if mode else {})).save(path)
    for name, content in (extra or {}).items():
      path = os.path.join(root, name)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, "wb") as f:
        f.write(content)
  return prepare


def _digit_files(n: int = 40, size: int = 8, dtype=np.uint8, scale: float = 1.0,
                 classes: int = 10) -> Dict[str, np.ndarray]:
  images, labels = _digits(n, 3, size)
  return {f"{labels[i] % classes}/{i}.png": (images[i] * scale).astype(dtype)
          for i in range(n)}


def _alpha_ink(p):
  images, labels = _digits(40, 4)
  root = os.path.join(p["here"], "images")
  for i in range(40):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = images[i]           # black ink whose shape is only in alpha
    os.makedirs(os.path.join(root, str(labels[i])), exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(os.path.join(root, str(labels[i]), f"{i}.png"))


def _npy_named_npz(array):
  def prepare(p):
    with open(os.path.join(p["here"], "d.npz"), "wb") as f:
      np.save(f, array)      # np.save(path) would append .npy to the name
  return prepare


def _copy_run(p):
  shutil.copytree(p["run"], os.path.join(p["here"], "run"))


def _damage(pattern: str, how: str = "garble"):
  """A copy of the finished run with the files matching `pattern` damaged."""
  def prepare(p):
    _copy_run(p)
    root = os.path.join(p["here"], "run")
    for dirpath, _, names in os.walk(root):
      for name in names:
        path = os.path.join(dirpath, name)
        if re.search(pattern, os.path.relpath(path, root)):
          if how == "remove":
            os.remove(path)
          else:
            with open(path, "r+b") as f:
              if how == "truncate":
                f.truncate(os.path.getsize(path) // 2)
              else:
                f.write(b"\0garbled\0" * 8)
  return prepare


def _config_edit(text: str):
  def prepare(p):
    _copy_run(p)
    with open(os.path.join(p["here"], "run", "config.json"), "w") as f:
      f.write(text)
  return prepare


def _mixed_export(p):
  root = os.path.join(p["here"], "mixed")
  for name, source in (("encoder", p["export"]), ("decoder", p["export2"])):
    versions = os.listdir(os.path.join(source, name))
    shutil.copytree(os.path.join(source, name, versions[0]), os.path.join(root, name, "1"))


def _second_export(p):
  """A finished run's export copied, for cases that add to it."""
  shutil.copytree(p["export"], os.path.join(p["here"], "export"))


def _mkdir(name: str):
  return lambda p: os.makedirs(os.path.join(p["here"], name))


# ------------------------------------------------------------------- cases

TRAIN = ["--preset=smoke", "--dataset=npz:{data}", "--workdir={here}/w"]
UNWRITABLE = "/proc/aae_break_it"       # refused even to root
EVAL = ["--export_dir={export}", "--output={here}/e.json", "--num_parzen_samples=200",
        "--classifier_epochs=0"]


def _flag_cases() -> List[Case]:
  bad = [
      ("--latent_dim=-3", "negative latent size"), ("--latent_dim=0", "zero latent size"),
      ("--latent_dim=abc", "a word for a number"), ("--batch_size=0", "zero batch"),
      ("--batch_size=1000000", "a batch larger than the data"),
      ("--epochs=-1", "negative epochs"), ("--train_steps=-5", "negative steps"),
      ("--preset=paper_table9", "an unknown preset"), ("--variant=dreamy", "an unknown variant"),
      ("--prior=cauchy", "an unknown prior"), ("--prior_std=0", "a zero prior std"),
      ("--reconstruction_lr=-0.1", "a negative rate"), ("--generator_lr=nan", "a NaN rate"),
      ("--optimizer=adam --momentum=1.5", "Adam with momentum 1.5"),
      ("--lr_decay_epochs=50,10", "unsorted decay epochs"),
      ("--seed=18446744073709551616", "seed 2**64"), ("--seed=-1", "a negative seed"),
      ("--label_seed=-5", "a negative label seed"),
      ("--variant=semi_supervised --num_labels=100000", "more labels than examples"),
      ("--variant=clustering --num_categories=1", "one cluster"),
      ("--encoder_dropout=1.0", "dropout 1"), ("--decoder_dropout=-0.1", "negative dropout"),
      ("--style_dropout=2", "style dropout 2"), ("--posterior=laplace", "an unknown posterior"),
      ("--precision=fp8", "an unknown precision"), ("--strategy=tpu_pod", "an unknown strategy"),
      ("--cpu_replicas=0", "zero replicas"), ("--validation_size=100000", "validation > data"),
      ("--validation_size=-7", "validation -7"), ("--steps_per_loop=0", "zero steps per loop"),
      ("--checkpoint_every_steps=-3", "checkpoint every -3 steps"),
      ("--keep_checkpoints=0", "keep no checkpoints"), ("--encoder_hidden=16,abc", "a word in a layer list"),
      ("--encoder_hidden=", "no hidden layers given as empty"),
      ("--image_size=0,8", "a zero image size"), ("--latent_dims=4", "a misspelt flag"),
      ("--version=99", "--version on training"),
      ("--learning_rate=0.1", "another library's flag"),
      ("--dataset=mnist --validation_size=abc", "validation size as a word"),
      ("--summary_every_steps=-1", "negative summary interval"),
  ]
  cases = [Case("flags", what, "train", TRAIN + flag.split()) for flag, what in bad]
  cases += [
      Case("flags", "a positional argument", "train", TRAIN + ["extra"]),
      Case("flags", "no --workdir", "train", ["--preset=smoke", "--dataset=npz:{data}"]),
      Case("flags", "--only_check_args on an invalid config", "train",
           TRAIN + ["--only_check_args", "--latent_dim=-1"]),
      Case("flags", "a missing --flagfile", "train", TRAIN + ["--flagfile={here}/none.txt"]),
      Case("flags", "a --flagfile saved as UTF-8 with BOM", "train",
           TRAIN + ["--flagfile={here}/f.txt"],
           prepare=_raw("f.txt", b"\xef\xbb\xbf--latent_dim=4\n")),
      Case("flags", "a --flagfile that is binary", "train", TRAIN + ["--flagfile={here}/f.bin"],
           prepare=_raw("f.bin", bytes(range(256)))),
      Case("flags", "--workdir that is a file", "train",
           ["--preset=smoke", "--dataset=npz:{data}", "--workdir={data}"]),
      Case("flags", "--workdir where nothing can be written", "train",
           ["--preset=smoke", "--dataset=npz:{data}", f"--workdir={UNWRITABLE}/w"]),
      Case("flags", "--export_dir where nothing can be written", "train",
           TRAIN + [f"--export_dir={UNWRITABLE}/e"]),
      Case("flags", "--export_dir that is a file", "train", TRAIN + ["--export_dir={data}"]),
  ]
  return cases


def _data_cases() -> List[Case]:
  x, y = _digits(60, 5)
  npz = [
      ("a text file named .npz", _raw("d.npz", b"x_train = [1, 2, 3]\n")),
      ("a single .npy given as npz:", _npy_named_npz(x)),
      ("an empty file", _raw("d.npz", b"")),
      ("zero examples", _npz("d.npz", x_train=np.zeros((0, 8, 8), np.uint8))),
      ("zero-size images", _npz("d.npz", x_train=np.zeros((60, 0, 8), np.uint8))),
      ("a label of 10^9", _npz("d.npz", x_train=x, y_train=np.where(y == 3, 10 ** 9, y))),
      ("a label of 2^32 + 3", _npz("d.npz", x_train=x, y_train=np.where(y == 3, 2 ** 32 + 3, y))),
      ("a negative label", _npz("d.npz", x_train=x, y_train=y - 1)),
      ("float labels", _npz("d.npz", x_train=x, y_train=y + 0.5)),
      ("NaN pixels", _npz("d.npz", x_train=np.where(x > 200, np.nan, x / 255.0))),
      ("float pixels up to 255", _npz("d.npz", x_train=x.astype(np.float32))),
      ("negative float pixels", _npz("d.npz", x_train=x / 255.0 - 0.5)),
      ("fewer labels than images", _npz("d.npz", x_train=x, y_train=y[:-5])),
      ("y_train without x_train", _npz("d.npz", y_train=y)),
      ("x_test of another size", _npz("d.npz", x_train=x, x_test=np.zeros((5, 9, 9), np.uint8))),
      ("one-dimensional x_train", _npz("d.npz", x_train=np.arange(60))),
      ("five-dimensional x_train", _npz("d.npz", x_train=x[:, :, :, None, None])),
      ("pickled objects", lambda p: np.savez(os.path.join(p["here"], "d.npz"),
                                             x_train=np.array([{"a": 1}] * 60, dtype=object))),
      ("strings", _npz("d.npz", x_train=np.array(["digit"] * 60))),
      ("a header declaring 8 TB", _huge_header_npz),
      ("four channels", _npz("d.npz", x_train=np.repeat(x[..., None], 4, axis=3))),
      ("a missing file", None),
  ]
  cases = [Case("data: npz", what, "train",
                ["--preset=smoke", "--dataset=npz:{here}/d.npz", "--workdir={here}/w"],
                prepare=prepare) for what, prepare in npz]
  grey = _digit_files()

  def bomb(p):
    _folder(grey)(p)
    _write_blank_png(os.path.join(p["here"], "images", "0", "bomb.png"), 20000, 20000)
  folder = [
      ("a folder that does not exist", None, "refused"),
      ("an empty folder", _mkdir("images"), "refused"),
      ("a folder of text files", _folder({}, extra={f"{i}.png.txt": b"hi" for i in range(3)}),
       "refused"),
      ("a zero-byte PNG among digits", _folder(grey, extra={"1/zero.png": b""}), "refused"),
      ("a PNG that is text", _folder(grey, extra={"2/fake.png": b"not a png"}), "refused"),
      ("a truncated PNG", lambda p: (_folder(grey)(p), _truncate_one(p)), "refused"),
      ("a decompression bomb (20000 x 20000, 400 kB)", bomb, "refused"),
      ("images of two sizes", _folder({**grey, "4/big.png": np.zeros((9, 9), np.uint8)}),
       "refused"),
      ("images and class folders side by side",
       _folder({**grey, "loose.png": np.zeros((8, 8), np.uint8)}), "refused"),
      ("16-bit PNGs (scaled, not clipped)", _folder(_digit_files(dtype=np.uint16, scale=257.0)),
       "runs"),
      ("ink only in the alpha channel (composited)", _alpha_ink, "runs"),
      ("a README beside the class folders (skipped, counted)",
       _folder(grey, extra={"README.md": b"# digits\n"}), "runs"),
  ]
  cases += [Case("data: folder", what, "train",
                 ["--preset=smoke", "--dataset=folder:{here}/images", "--workdir={here}/w"],
                 expect=expect, prepare=prepare, watch=("{here}/images",))
            for what, prepare, expect in folder]
  one_class = _npz("d.npz", x_train=x, y_train=np.zeros(60, np.int64))
  cases += [
      Case("data: npz", "a single class, unsupervised (labels only score it)", "train",
           ["--preset=smoke", "--dataset=npz:{here}/d.npz", "--workdir={here}/w"],
           expect="runs", prepare=one_class),
      Case("data: npz", "a single class, supervised", "train",
           ["--preset=smoke", "--variant=supervised", "--dataset=npz:{here}/d.npz",
            "--workdir={here}/w"], prepare=one_class),
      Case("data: folder", "one class folder, semi-supervised", "train",
           ["--preset=smoke", "--variant=semi_supervised", "--num_labels=10",
            "--dataset=folder:{here}/images", "--workdir={here}/w"],
           prepare=_folder(_digit_files(classes=1)), watch=("{here}/images",)),
      Case("data: tfds", "a misspelt TFDS name", "train",
           ["--preset=smoke", "--dataset=tfds:mnistt", "--workdir={here}/w"]),
      Case("data: tfds", "a TFDS dataset not prepared, downloads off", "train",
           ["--preset=smoke", "--dataset=tfds:cifar10", "--allow_download=false",
            "--data_dir={here}", "--workdir={here}/w"]),
      Case("data", "an unknown data scheme", "train",
           ["--preset=smoke", "--dataset=s3:bucket/x", "--workdir={here}/w"]),
  ]
  return cases


def _write_blank_png(path: str, width: int, height: int) -> None:
  """A grey PNG of any size, streamed: a few hundred kB on disk, width*height in memory."""
  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
  packer = zlib.compressobj(9)
  row = b"\0" * (width + 1)
  body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
  with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _truncate_one(p):
  path = os.path.join(p["here"], "images", "3", sorted(os.listdir(
      os.path.join(p["here"], "images", "3")))[0])
  with open(path, "r+b") as f:
    f.truncate(30)


def _run_cases() -> List[Case]:
  here_run = ["--preset=smoke", "--dataset=npz:{data}", "--workdir={here}/run"]
  other = _npz("other.npz", x_train=_digits(200, 9)[0], y_train=_digits(200, 9)[1])
  return [
      Case("resume", "the same run again, other data", "train",
           ["--preset=smoke", "--dataset=npz:{here}/other.npz", "--workdir={run}"], prepare=other),
      Case("resume", "the same run again, another variant", "train",
           ["--preset=smoke", "--dataset=npz:{data}", "--variant=supervised", "--workdir={run}"]),
      Case("resume", "the same run again, another latent size", "train",
           ["--preset=smoke", "--dataset=npz:{data}", "--latent_dim=3", "--workdir={run}"]),
      Case("resume", "the same run again, another preset", "train",
           ["--preset=paper_table1", "--dataset=npz:{data}", "--workdir={run}"]),
      Case("resume", "the same run again, more steps (carries on)", "train",
           here_run + ["--train_steps=9"], expect="runs", prepare=_copy_run,
           watch=("{data}", "{run}")),
      Case("resume", "config.json garbled", "train", here_run,
           prepare=_config_edit("{not json"), watch=("{data}", "{run}", "{here}/run")),
      Case("resume", "config.json empty", "train", here_run,
           prepare=_config_edit(""), watch=("{data}", "{run}", "{here}/run")),
      Case("resume", "config.json from a future version", "train", here_run,
           prepare=_config_edit('{"format": 99, "model": {"warp": 1}}'),
           watch=("{data}", "{run}", "{here}/run")),
      Case("resume", "every checkpoint garbled", "train", here_run + ["--train_steps=9"],
           prepare=_damage(r"checkpoints/ckpt-\d+\.data"), watch=("{data}", "{run}", "{here}/run")),
      Case("resume", "the latest checkpoint truncated (falls back a step)", "train",
           here_run + ["--train_steps=9"], expect="runs",
           prepare=_damage(r"checkpoints/ckpt-6\.data", "truncate"), watch=("{data}", "{run}")),
      Case("resume", "the checkpoint index removed", "train", here_run + ["--train_steps=9"],
           expect="runs", prepare=_damage(r"checkpoints/checkpoint$", "remove"),
           watch=("{data}", "{run}")),
      Case("resume", "metrics.jsonl garbled (the run carries on)", "train",
           here_run + ["--train_steps=9"], expect="runs",
           prepare=_damage(r"metrics\.jsonl"), watch=("{data}", "{run}")),
      Case("export", "no --workdir", "export", ["--export_dir={here}/e"]),
      Case("export", "a workdir that does not exist", "export",
           ["--workdir={here}/none", "--export_dir={here}/e"]),
      Case("export", "a workdir with no checkpoints", "export",
           ["--workdir={here}/empty", "--export_dir={here}/e"], prepare=_mkdir("empty")),
      Case("export", "a version that exists (never overwritten)", "export",
           ["--workdir={run}", "--export_dir={here}/export", "--version=6"],
           prepare=_second_export, watch=("{run}", "{here}/export")),
      Case("export", "a checkpoint step that does not exist", "export",
           ["--workdir={run}", "--export_dir={here}/e", "--checkpoint=999"]),
      Case("export", "--checkpoint=newest (a word it does not know)", "export",
           ["--workdir={run}", "--export_dir={here}/e", "--checkpoint=newest"]),
      Case("export", "--version=-1", "export",
           ["--workdir={run}", "--export_dir={here}/e", "--version=-1"]),
      Case("export", "a training flag (--latent_dim=4)", "export",
           ["--workdir={run}", "--export_dir={here}/e", "--latent_dim=4"]),
      Case("export", "--export_dir that is a file", "export",
           ["--workdir={run}", "--export_dir={data}"]),
      Case("export", "--export_dir where nothing can be written", "export",
           ["--workdir={run}", f"--export_dir={UNWRITABLE}/e"]),
      Case("export", "every checkpoint garbled", "export",
           ["--workdir={here}/run", "--export_dir={here}/e"],
           prepare=_damage(r"ckpt-\d+\.data"), watch=("{run}", "{here}/run")),
      Case("export", "the run's best copy damaged, the rolling one intact", "export",
           ["--workdir={here}/run", "--export_dir={here}/e"], expect="runs",
           prepare=_damage(r"best/.*\.data"), watch=("{run}",)),
      Case("evaluate", "no --export_dir or --workdir", "evaluate", ["--output={here}/e.json"]),
      Case("evaluate", "an export_dir that does not exist", "evaluate",
           ["--export_dir={here}/none", "--output={here}/e.json"]),
      Case("evaluate", "an empty export_dir", "evaluate",
           ["--export_dir={here}/empty", "--output={here}/e.json"], prepare=_mkdir("empty")),
      Case("evaluate", "--output that is a directory", "evaluate",
           ["--export_dir={export}", "--output={here}/outdir"], prepare=_mkdir("outdir")),
      Case("evaluate", "--output where nothing can be written", "evaluate",
           ["--export_dir={export}", f"--output={UNWRITABLE}/e.json"]),
      Case("evaluate", "--num_parzen_samples=0", "evaluate", EVAL + ["--num_parzen_samples=0"]),
      Case("evaluate", "--num_parzen_samples=10^9", "evaluate",
           EVAL + ["--num_parzen_samples=1000000000"]),
      Case("evaluate", "--sigmas=-1", "evaluate", EVAL + ["--sigmas=-1"]),
      Case("evaluate", "a version that does not exist", "evaluate", EVAL + ["--version=12345"]),
      Case("evaluate", "an encoder and a decoder of two exports", "evaluate",
           ["--export_dir={here}/mixed", "--output={here}/e.json", "--classifier_epochs=0"],
           prepare=_mixed_export, watch=("{export}",)),
      Case("evaluate", "data of another shape (28x28 npz on an 8x8 model)", "evaluate",
           EVAL + ["--dataset=npz:{here}/big.npz"],
           prepare=_npz("big.npz", x_train=np.zeros((60, 28, 28), np.uint8),
                        y_train=np.arange(60) % 10)),
      Case("evaluate", "a training flag (--epochs=3)", "evaluate", EVAL + ["--epochs=3"]),
      Case("evaluate", "the finished run, small budgets (runs)", "evaluate", EVAL,
           expect="runs", watch=("{export}", "{data}")),
      Case("explore", "an export_dir that does not exist", "explore",
           ["--export_dir={here}/none"]),
      Case("explore", "--port=-1", "explore", ["--export_dir={export}", "--port=-1"]),
      Case("explore", "--port=70000", "explore", ["--export_dir={export}", "--port=70000"]),
      Case("explore", "--port=0", "explore", ["--export_dir={export}", "--port=0"]),
      Case("explore", "--projector into a file", "explore",
           ["--export_dir={export}", "--projector", "--logdir={data}"]),
      Case("signals", "Ctrl-C half a second in (interpreter start-up)", "train",
           TRAIN, expect="stopped", interrupt=(0.5, signal.SIGINT)),
      Case("signals", "Ctrl-C two seconds in (TensorFlow's import)", "train",
           TRAIN, expect="stopped", interrupt=(2.0, signal.SIGINT)),
      Case("signals", "Ctrl-C in the training loop (a checkpoint is saved)", "train",
           TRAIN + ["--train_steps=100000", "--steps_per_loop=3"], expect="stopped",
           interrupt=(r"step \d+/", signal.SIGINT)),
      Case("signals", "SIGTERM three seconds in (start-up)", "train", TRAIN, expect="stopped",
           interrupt=(3.0, signal.SIGTERM)),
      Case("signals", "SIGTERM in the training loop", "train",
           TRAIN + ["--train_steps=100000", "--steps_per_loop=3"], expect="stopped",
           interrupt=(r"step \d+/", signal.SIGTERM)),
      Case("signals", "SIGTERM during evaluate's computation", "evaluate", EVAL,
           expect="stopped", interrupt=(r"^data: ", signal.SIGTERM), watch=("{export}",)),
  ]


def all_cases() -> List[Case]:
  return _flag_cases() + _data_cases() + _run_cases()


# ------------------------------------------------------------------ running

def _command(command: str) -> List[str]:
  return [sys.executable, "-c", f"import sys; sys.argv[0] = 'aae-{command}'; "
          f"from aae_tf import console; console.{command}()"]


def _digest(path: str) -> Optional[str]:
  """A digest of a file or a whole tree (names and bytes); None if it is missing."""
  if not os.path.exists(path):
    return None
  h = hashlib.sha256()
  if os.path.isfile(path):
    with open(path, "rb") as f:
      h.update(f.read())
    return h.hexdigest()
  for dirpath, dirnames, names in os.walk(path):
    dirnames.sort()
    for name in sorted(names):
      full = os.path.join(dirpath, name)
      h.update(os.path.relpath(full, path).encode())
      with open(full, "rb") as f:
        h.update(f.read())
  return h.hexdigest()


def _first_line(output: str) -> str:
  for line in output.splitlines():
    line = line.strip()
    if line and not TF_NOISE.match(line):
      return ABSL_PREFIX.sub("", line)[:160]
  return ""


@dataclasses.dataclass
class Outcome:
  case: Case
  exit_code: int
  first_line: str
  verdict: str          # "ok" or what went wrong
  seconds: float


def _interrupt(proc: subprocess.Popen, when, sig, lines: List[str]) -> None:
  if isinstance(when, (int, float)):
    time.sleep(when)
  else:
    pattern = re.compile(when)
    deadline = time.monotonic() + TIMEOUT_S
    while not any(pattern.search(l) for l in list(lines)) and time.monotonic() < deadline:
      if proc.poll() is not None:
        return
      time.sleep(0.1)
  if proc.poll() is None:
    proc.send_signal(sig)


def run_case(case: Case, paths: Dict[str, str], scratch: str) -> Outcome:
  here = tempfile.mkdtemp(prefix="case_", dir=scratch)
  p = dict(paths, here=here)
  if case.prepare is not None:
    case.prepare(p)
  watched = {w.format(**p): None for w in case.watch}
  watched = {w: _digest(w) for w in watched}
  args = [a.format(**p) for a in case.args]
  started = time.monotonic()
  proc = subprocess.Popen(
      _command(case.command) + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True, errors="replace", env=paths["env"], cwd=here,
      # What a terminal gives its foreground job; a shell's background job ignores it.
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  lines: List[str] = []
  if case.interrupt:
    threading.Thread(target=_interrupt, args=(proc, *case.interrupt, lines),
                     daemon=True).start()
  try:
    for line in proc.stdout:
      lines.append(line.rstrip("\n"))
    proc.wait(timeout=TIMEOUT_S)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    lines.append("(timed out)")
  seconds = time.monotonic() - started
  output = "\n".join(lines)
  code = proc.returncode
  verdict = _judge(case, code, output, watched)
  first = _first_line(output)
  if case.expect == "refused":
    errors = [l for l in lines if l.startswith("error:")]
    first = errors[0][:200] if errors else first
  elif case.expect == "stopped":
    stops = [l for l in lines if l.startswith("stopped:")]
    first = stops[0][:200] if stops else first
  shutil.rmtree(here, ignore_errors=True)
  return Outcome(case, code, first, verdict, seconds)


def _judge(case: Case, code: int, output: str, watched: Dict[str, Optional[str]]) -> str:
  problems = []
  if "Traceback (most recent call last)" in output:
    problems.append("traceback")
  if code < 0:
    problems.append(f"died of signal {-code}")
  lines = output.splitlines()
  if case.expect == "refused":
    errors = [l for l in lines if l.startswith("error:")]
    if code == 0:
      problems.append("silently accepted")
    elif len(errors) != 1:
      problems.append(f"{len(errors)} error: lines")
  elif case.expect == "runs" and code != 0:
    problems.append(f"exit {code}, expected to run")
  elif case.expect == "stopped":
    if code == 0 or sum(l.startswith("stopped:") for l in lines) != 1:
      problems.append("not one stopped: line")
  for path, before in watched.items():
    after = _digest(path)
    if before is not None and after is None:
      problems.append(f"data loss: {path}")
    elif before != after:
      problems.append(f"silent change: {path}")
  return "; ".join(problems) or "ok"


def _setup(scratch: str) -> Dict[str, str]:
  env = dict(os.environ, PYTHONUNBUFFERED="1", AAE_TF_CACHE=os.path.join(scratch, "cache"),
             TFDS_DATA_DIR=os.path.join(scratch, "no_tfds"))
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  data = os.path.join(scratch, "good.npz")
  write_good_npz(data)
  paths = {"root": scratch, "data": data, "run": os.path.join(scratch, "run"),
           "export": os.path.join(scratch, "run", "export"),
           "export2": os.path.join(scratch, "run2", "export"), "env": env}
  for run, seed in (("run", 0), ("run2", 1)):
    proc = subprocess.run(
        _command("train") + ["--preset=smoke", f"--dataset=npz:{data}", f"--seed={seed}",
                             f"--workdir={os.path.join(scratch, run)}",
                             f"--export_dir={os.path.join(scratch, run, 'export')}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
      raise SystemExit(f"break_it: the finished run the cases need failed:\n{proc.stdout[-3000:]}")
  return paths


def _machine() -> str:
  flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
  bf16 = ("AMX" if "amx_bf16" in flags else "AVX512-BF16, no AMX" if "avx512_bf16" in flags
          else "no bf16 instructions")
  return f"{os.cpu_count()}-core {platform.machine()} ({bf16})"


def _commit() -> str:
  try:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                          check=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def report(outcomes: List[Outcome], argv: Sequence[str]) -> str:
  bad = [o for o in outcomes if o.verdict != "ok"]
  count = lambda word: sum(word in o.verdict for o in outcomes)  # noqa: E731
  rows = ["| # | group | input | command | exit | first line | verdict |",
          "|---|---|---|---|---|---|---|"]
  for i, o in enumerate(outcomes, 1):
    first = o.first_line.replace("|", "\\|").replace("`", "'")
    rows.append(f"| {i} | {o.case.group} | {o.case.what} | aae-{o.case.command} | "
                f"{o.exit_code} | `{first}` | {o.verdict} |")
  return "\n".join([
      "# Reliability: the break-it run",
      "",
      "Bad inputs and faults against tiny runs (small npz data, a finished 6-step "
      "`smoke` run and its export), one fresh command line each, as a user would type "
      "it. A case passes when nothing printed a traceback or died of a signal it did not "
      "ask for; a bad input was refused with one `error:` line (a stop signal: one "
      "`stopped:` line), a good one ran; and every file it watches (the data, the "
      "finished run, the export) is byte for byte as before.",
      "",
      f"Made by `{' '.join(['python scripts/break_it.py', *argv])}` on "
      f"{datetime.date.today().isoformat()}, commit {_commit()}, {_machine()}.",
      "",
      f"**{len(outcomes)} cases: {len(outcomes) - len(bad)} passed. Tracebacks: "
      f"{count('traceback')}. Silent changes: {count('silent')}. Data loss: "
      f"{count('data loss')}.**",
      "",
      *rows,
      ""])


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="only the cases CI runs")
  parser.add_argument("--jobs", type=int, default=2)
  parser.add_argument("--output", help="write the report here (markdown)")
  parser.add_argument("--only", help="a regex: only cases whose input matches")
  args = parser.parse_args(argv)
  cases = [c for c in all_cases() if (c.quick or not args.quick)
           and (not args.only or re.search(args.only, c.what))]
  scratch = tempfile.mkdtemp(prefix="aae_break_it_")
  try:
    paths = _setup(scratch)
    def run_and_print(case):
      o = run_case(case, paths, scratch)
      print(f"{o.verdict:>8.8} {o.exit_code:>4} {o.seconds:5.1f}s  {o.case.group}: "
            f"{o.case.what}  ->  {o.first_line[:110]}", flush=True)
      return o
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
      outcomes = list(pool.map(run_and_print, cases))
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  text = report(outcomes, [a for a in argv if not a.startswith("--output")])
  if args.output:
    with open(args.output, "w") as f:
      f.write(text)
  failed = sum(o.verdict != "ok" for o in outcomes)
  print(f"{len(outcomes)} cases, {failed} failed")
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
