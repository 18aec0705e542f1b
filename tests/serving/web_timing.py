"""The page's time per batch for model.onnx vs model.int8.onnx, in headless Chromium.

    python -m tests.serving.web_timing VERSION_DIR [--batches 1,100,256] [--rounds 7]

Two Chromium instances, one on ?precision=float and one on ?precision=int8, the
same server and inputs; the draws alternate between them (these machines drift),
each timed by the page itself (window.cgan.draw's ms: session.run only). Prints
the median ms per batch and the images/s for each, and their ratio
(docs/embedding.md, "Reduced precision in Python, the page and Node.js").
"""

import argparse
import json
import statistics
import tempfile

from tests.serving import browser

LABEL = 7


def _draw(driver, n, seed):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.cgan.draw(arguments[0], arguments[1], arguments[2]).then("
        "(r) => done(r.ms), (e) => done(String(e.message)));", LABEL, seed, n)


def measure(version_dir, batches=(1, 100, 256), rounds=7):
    """{batch: {precision: median ms, ...}} for the float and int8 pages."""
    from model_pkg.serving.web_app import start_in_thread

    server, url = start_in_thread(version_dir)
    drivers = {}
    with tempfile.TemporaryDirectory() as profiles:
        try:
            for precision in ("float", "int8"):
                drivers[precision] = browser.open_browser(f"{profiles}/{precision}")
                state = browser.wait_ready(drivers[precision], f"{url}?precision={precision}")
                path = drivers[precision].execute_script("return window.cgan.path")
                if state != "true" or path["used"] != precision:
                    raise RuntimeError(f"{precision} page: {state} {path}")
            return {n: _timed(drivers, n, rounds) for n in batches}
        finally:
            for driver in drivers.values():
                driver.quit()
            server.shutdown()


def _timed(drivers, n, rounds):
    samples = {name: [] for name in drivers}
    for name, driver in drivers.items():   # warm-up: the first run at a size allocates
        _draw(driver, n, 0)
    for k in range(rounds):
        for name, driver in drivers.items():
            samples[name].append(_draw(driver, n, k + 1))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    return {**{f"{name}_ms": round(ms, 2) for name, ms in medians.items()},
            **{f"{name}_images_per_s": round(n / ms * 1e3) for name, ms in medians.items()},
            "int8_over_float": round(medians["float"] / medians["int8"], 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir")
    parser.add_argument("--batches", default="1,100,256")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    batches = tuple(int(b) for b in args.batches.split(","))
    print(json.dumps(measure(args.version_dir, batches, args.rounds), indent=2))


if __name__ == "__main__":
    main()
