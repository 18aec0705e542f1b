"""Peak memory of this process, as benchmarks and training summaries report it."""

import resource


def peak_rss_mib():
    """This process's peak resident set size in MiB.

    Reads VmHWM from /proc/self/status where there is one: ru_maxrss survives
    execve on Linux, so a child started from a large parent (the benchmark
    forking `model-pkg train`) would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)   # kB -> MiB
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
