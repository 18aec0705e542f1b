"""Headless Debian Chromium driven by Selenium, for the web page's tests.

Uses the system's /usr/bin/chromium and /usr/bin/chromedriver (installed by
.ci/run from Debian's packages), never a downloaded browser build.

Also a script that screenshots the page for the README:
    python -m tests.serving.browser VERSION_DIR OUT.png [--label 7 --seed 2026]
(it also prints the page's median time per batch of 100 over 7 draws)
"""

import argparse
import os
import shutil
import time

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Chromium's own background traffic is refused by this closed network; these
# flags keep it quiet. --no-sandbox: CI runs as root.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=820,1000")


def missing_browser():
    """Why a real Chromium cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


def open_browser(user_data_dir):
    """A Selenium WebDriver on headless Chromium with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(120)
    return driver


def wait_ready(driver, url, timeout=60):
    """Loads the page; returns body[data-ready] ('true' or 'error') once set."""
    driver.get(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = driver.execute_script("return document.body.dataset.ready || null")
        if state:
            return state
        time.sleep(0.1)
    raise TimeoutError(f"{url}: page not ready after {timeout} s")


def draw_from_ui(driver, label, seed, count=100, timeout=60):
    """Picks the digit, types the seed, clicks Draw; returns window.cgan.last."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "label")).select_by_visible_text(str(label))
    Select(driver.find_element(By.ID, "count")).select_by_visible_text(str(count))
    seed_box = driver.find_element(By.ID, "seed")
    seed_box.clear()
    seed_box.send_keys(str(seed))
    driver.find_element(By.ID, "draw").click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = driver.execute_script("return window.cgan && window.cgan.last")
        if last and last["label"] == label and last["seed"] == seed and last["n"] == count:
            return last
        time.sleep(0.1)
    raise TimeoutError(f"no drawing of label {label}, seed {seed} after {timeout} s")


def canvas_gray(driver):
    """The canvas's red channel (== gray) as nested lists [height][width]."""
    return driver.execute_script("""
        const c = document.getElementById('digits');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const rows = [];
        for (let y = 0; y < c.height; y++) {
          const row = [];
          for (let x = 0; x < c.width; x++) row.push(d[4 * (y * c.width + x)]);
          rows.push(row);
        }
        return rows;""")


def _max_diff_from_python(version_dir, last):
    """Max |browser - OnnxClient| for the page's last drawing (label, seed, n)."""
    import numpy as np

    from model_pkg.noise import portable_noise
    from model_pkg.serving.local_clients import OnnxClient

    n = last["n"]
    expected = OnnxClient(version_dir, device="cpu").generate(
        np.full(n, last["label"], np.int32), portable_noise(last["seed"], n))
    return float(np.max(np.abs(np.asarray(last["images"], np.float32) - expected.ravel())))


def main(argv=None):
    import tempfile

    from model_pkg.serving.web_app import start_in_thread

    parser = argparse.ArgumentParser(description="screenshot the web page for a version")
    parser.add_argument("version_dir")
    parser.add_argument("out")
    parser.add_argument("--label", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    server, url = start_in_thread(args.version_dir)
    with tempfile.TemporaryDirectory() as profile:
        driver = open_browser(profile)
        try:
            if wait_ready(driver, url) != "true":
                raise RuntimeError(driver.find_element("id", "error").text)
            times = [draw_from_ui(driver, args.label, args.seed + k)["ms"] for k in range(1, 8)]
            last = draw_from_ui(driver, args.label, args.seed)
            driver.save_screenshot(os.path.abspath(args.out))
            times.sort()
            diff = _max_diff_from_python(args.version_dir, last)
            print(f"{args.out}: label {args.label}, seed {args.seed}; browser vs Python max |diff| "
                  f"{diff:.3g}; batch of 100 in the page: "
                  f"median {times[len(times) // 2]:.1f} ms over {len(times)} draws "
                  f"(min {times[0]:.1f}, max {times[-1]:.1f}); last {last['ms']:.1f} ms")
        finally:
            driver.quit()
            server.shutdown()


if __name__ == "__main__":
    main()
