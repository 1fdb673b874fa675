"""How many of this process's cores other work leaves free, measured now.

Torch's OpenMP threads synchronise at the end of every parallel region: when another
process keeps one of two cores busy, a 2-thread pass waits for the thread that shares
the busy core, and runs slower than a 1-thread pass (the README's quick start took
1.35 times as long with the default threads as with ``n_jobs=1`` while another process
kept one core busy; a small ``eigh`` a hundred times as long). :func:`free_cores`
measures the idle time of the cores over a short interval (``/proc/stat`` on Linux)
so that the estimators' default thread count can follow the machine's load.
"""

import os
import time

__all__ = ["free_cores", "usable_cores"]

#: Seconds over which idle time is measured (a fit or transform lasts far longer).
SAMPLE_SECONDS = 0.05


def usable_cores():
    """Number of cores this process may run on (its CPU affinity, else ``os.cpu_count()``).

    Returns
    -------
    n : int
        At least 1.

    Examples
    --------
    >>> from sklearn_ckn._cpu_load import usable_cores
    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times(cpus):
    """``{cpu: (idle, total)}`` jiffies of the given cores from ``/proc/stat``."""
    times = {}
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            cpu = int(name[3:])
            if cpu in cpus:
                values = [int(v) for v in fields]
                idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
                times[cpu] = (idle, sum(values[:8]))
    return times


def free_cores(seconds=SAMPLE_SECONDS):
    """Cores of this process's affinity set left idle by other work, measured now.

    The idle fractions of the cores over ``seconds`` (``/proc/stat``), summed and
    rounded; where they cannot be read (not Linux), ``usable_cores()`` minus the
    one-minute load average (a slower signal), and ``usable_cores()`` when neither is
    available. Call it while this process is not computing.

    Parameters
    ----------
    seconds : float, default=SAMPLE_SECONDS
        Length of the measurement.

    Returns
    -------
    n : int
        Between 1 and ``usable_cores()``.

    Examples
    --------
    >>> from sklearn_ckn._cpu_load import free_cores, usable_cores
    >>> 1 <= free_cores() <= usable_cores()
    True
    """
    cores = usable_cores()
    try:
        cpus = os.sched_getaffinity(0)
        before = _cpu_times(cpus)
        time.sleep(seconds)
        after = _cpu_times(cpus)
        idle = 0.0
        for cpu, (idle0, total0) in before.items():
            idle1, total1 = after.get(cpu, (idle0, total0))
            if total1 > total0:
                idle += (idle1 - idle0) / (total1 - total0)
            else:  # no tick in the interval: count the core as free
                idle += 1.0
        free = int(round(idle))
    except (AttributeError, OSError, ValueError):
        try:
            free = int(round(cores - os.getloadavg()[0]))
        except (AttributeError, OSError):
            free = cores
    return max(1, min(cores, free))
