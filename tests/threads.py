"""Run a worker on many threads at once and collect what they raised."""

import threading


def run_in_threads(worker, count):
    """Calls worker(k) for k in 0..count-1 concurrently; returns the exceptions raised."""
    errors = []

    def guarded(k):
        try:
            worker(k)
        except Exception as err:  # noqa: BLE001 - reported to the test, not lost in a thread
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
