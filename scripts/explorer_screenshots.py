"""Drives `aae-explore` in headless Chromium as a user would; the browser test's steps,
and the README's screenshots and interaction timings.

    python scripts/explorer_screenshots.py --export_dir=E [--data_dir=D] [--data=NAME] \
        [--name=quickstart] [--out=docs/figures]

Starts the explorer on a free port, opens it in Debian's Chromium through Playwright
(Playwright's own browser download is not needed), clicks the map, moves a slider,
draws a stroke, uploads an image of the wrong size, and reports what each step showed
and how long it took (time to first page; each interaction from the browser's event to
the updated output). With --out, a screenshot of each tab is written there as
explore_<name>_<tab>.png.
"""

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional

import numpy as np
from PIL import Image

CHROMIUM = os.environ.get("AAE_TF_CHROMIUM", "/usr/bin/chromium")
# As root the sandbox must be off; the rest keeps Chromium off the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
START_TIMEOUT_S = 120
# A first answer builds TensorFlow's graphs: seconds when the machine is free, more than
# 30 s when training jobs share its two cores. A step that never answers still fails.
STEP_TIMEOUT_MS = 90_000


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def explorer_server(args: List[str], env: Optional[Dict[str, str]] = None,
                    python: str = sys.executable) -> Iterator[dict]:
  """Runs `python -m aae_tf.explore ARGS --port=P`; yields {url, listen_s, log} once it
  says where it listens; stops it at the end."""
  port = free_port()
  log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
  start = time.perf_counter()
  proc = subprocess.Popen([python, "-m", "aae_tf.explore", *args, f"--port={port}"],
                          stdout=log, stderr=subprocess.STDOUT, env=env,
                          stdin=subprocess.DEVNULL, start_new_session=True)
  try:
    while True:
      text = open(log.name).read()
      if "listening on" in text:
        break
      if proc.poll() is not None or time.perf_counter() - start > START_TIMEOUT_S:
        raise RuntimeError(f"aae-explore did not start (exit {proc.poll()}):\n{text[-3000:]}")
      time.sleep(0.1)
    yield {"url": f"http://127.0.0.1:{port}/", "listen_s": time.perf_counter() - start,
           "started": start, "log": log.name}
  finally:
    proc.terminate()
    try:
      proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      proc.kill()
    os.unlink(log.name)


def _src(page, selector: str) -> Optional[str]:
  locator = page.locator(f"{selector} img")
  return locator.first.get_attribute("src") if locator.count() else None


def _wait_for_new_src(page, selector: str, old: Optional[str], start: float,
                      timeout_ms: float = STEP_TIMEOUT_MS) -> float:
  """Milliseconds from `start` (just before the action) until the image in `selector`
  shows a source other than `old`: what a user waits for after acting."""
  page.wait_for_function(
      """([selector, old]) => {
           const img = document.querySelector(selector + ' img');
           return img && img.getAttribute('src') && img.getAttribute('src') !== old;
         }""", arg=[selector, old], timeout=timeout_ms)
  return 1000 * (time.perf_counter() - start)


# A click that lands before the page has bound its handler is lost, and nothing answers
# it (a rare failure of the first map click on two busy cores): clicks are repeated
# this often until one answers, within the step's timeout.
CLICK_REPEAT_MS = 20_000


def _timed(page, selector: str, action, repeat: bool = False) -> float:
  """Runs `action` and returns the milliseconds until `selector`'s image changes; with
  `repeat`, runs it again every CLICK_REPEAT_MS until it does."""
  from playwright.sync_api import TimeoutError as PlaywrightTimeout  # pylint: disable=g-import-not-at-top
  old = _src(page, selector)
  start = time.perf_counter()
  while True:
    action()
    left_ms = STEP_TIMEOUT_MS - 1000 * (time.perf_counter() - start)
    if not repeat or left_ms <= CLICK_REPEAT_MS:
      return _wait_for_new_src(page, selector, old, start, max(left_ms, 1000))
    try:
      return _wait_for_new_src(page, selector, old, start, CLICK_REPEAT_MS)
    except PlaywrightTimeout:
      continue


def _click_in(page, selector: str, fx: float, fy: float) -> None:
  box = page.locator(f"{selector} img").first.bounding_box()
  page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def drive(url: str, out: Optional[str] = None, name: str = "export",
          started: Optional[float] = None) -> dict:
  """Every step of the test on the page at `url`; returns what was seen and timings."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  seen: Dict[str, object] = {}
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(url)
    page.wait_for_selector("text=aae_tf explorer", timeout=STEP_TIMEOUT_MS)
    if started is not None:
      seen["first_page_s"] = time.perf_counter() - started

    # The map: two clicks decode two different points. "#map-message" is on the tab either
    # way; once it is, "#map" tells whether this export has a map, and its image may
    # still be loading on a busy machine, so wait for it rather than count it.
    page.wait_for_selector("#map-message", state="attached", timeout=STEP_TIMEOUT_MS)
    if page.locator("#map").count():
      page.wait_for_selector("#map img", timeout=STEP_TIMEOUT_MS)
      seen["map_first_ms"] = _timed(page, "#map-decoded",
                                    lambda: _click_in(page, "#map", 0.35, 0.4), repeat=True)
      first = _src(page, "#map-decoded")
      seen["map_click_ms"] = _timed(page, "#map-decoded",
                                    lambda: _click_in(page, "#map", 0.55, 0.6))
      seen["map_decoded_changed"] = _src(page, "#map-decoded") != first
      seen["manifold_ms"] = _timed(page, "#manifold-image",
                                   lambda: page.locator("#manifold").click())
    else:
      seen["map_message"] = page.locator("#map-message").inner_text()
    _screenshot(page, out, name, "map")

    # Sample and steer: a slider moves the decoded image.
    page.get_by_role("tab", name="Sample and steer").click()
    number = page.locator("#slider-0 input[type=number]")

    def set_slider(value):
      number.fill(value)
      number.press("Enter")
    seen["steer_first_ms"] = _timed(page, "#steer-decoded", lambda: set_slider("1.5"))
    page.wait_for_timeout(500)   # let the field's own change events settle
    seen["steer_ms"] = _timed(page, "#steer-decoded", lambda: set_slider("-1.5"))
    page.wait_for_function(
        "() => (document.querySelector('#steer-code')?.innerText || '').startsWith('z = [-1.50')",
        timeout=STEP_TIMEOUT_MS)
    seen["steer_code"] = page.locator("#steer-code").inner_text()
    _screenshot(page, out, name, "steer")

    # Your image: a stroke on the canvas, then an image of the wrong size.
    page.get_by_role("tab", name="Your image").click()
    if page.locator("#image-class").count():   # the decoder needs the class: a "1"
      page.locator("#image-class input").click()
      page.get_by_role("option", name="1", exact=True).click()
    canvas = page.locator("#aae-pad")
    canvas.wait_for(timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(500)   # the page's script binds the pad
    box = canvas.bounding_box()
    # A vertical stroke through the middle of the pad: a "1".
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy - 0.32 * box["height"])
    page.mouse.down()
    for i in range(1, 13):
      page.mouse.move(cx + 0.01 * box["width"] * (i % 2),
                      cy - 0.32 * box["height"] + 0.053 * i * box["height"], steps=2)
    # The stroke's end sends the drawing to be analysed.
    seen["drawing_ms"] = _timed(page, "#image-reconstruction", page.mouse.up)
    seen["probabilities"] = (page.locator("#image-probabilities").inner_text()
                             if page.locator("#image-probabilities").is_visible() else "")
    seen["code"] = page.locator("#image-code").inner_text()
    _screenshot(page, out, name, "image")

    wrong = os.path.join(tempfile.mkdtemp(), "wrong_size.png")
    Image.fromarray(np.zeros((31, 45), np.uint8)).save(wrong)
    page.locator("#upload input[type=file]").set_input_files(wrong)
    page.wait_for_function(
        "() => /pixels; the model reads/.test("
        "document.querySelector('#image-message')?.innerText || '')",
        timeout=STEP_TIMEOUT_MS)
    seen["wrong_size_message"] = page.locator("#image-message").inner_text()
    browser.close()
  return seen


def _screenshot(page, out: Optional[str], name: str, tab: str) -> None:
  if out:
    os.makedirs(out, exist_ok=True)
    page.wait_for_timeout(300)   # the last image's fade-in
    page.screenshot(path=os.path.join(out, f"explore_{name}_{tab}.png"), full_page=True)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--export_dir", required=True)
  parser.add_argument("--data_dir")
  parser.add_argument("--data")
  parser.add_argument("--name", default="export")
  parser.add_argument("--out")
  args = parser.parse_args(argv)
  flags = [f"--export_dir={args.export_dir}"]
  flags += [f"--data_dir={args.data_dir}"] if args.data_dir else []
  flags += [f"--data={args.data}"] if args.data else []
  with explorer_server(flags) as server:
    seen = drive(server["url"], args.out, args.name, server["started"])
    seen["listen_s"] = server["listen_s"]
    timings = [line for line in open(server["log"]) if re.search(r": [0-9.]+ ms$", line)]
  seen["server_ms"] = [line.strip() for line in timings]
  print(json.dumps(seen, indent=2, default=str))
  return 0


if __name__ == "__main__":
  sys.exit(main())
