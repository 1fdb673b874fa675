"""Tests of the free-core measurement (``sklearn_ckn._cpu_load``)."""

import itertools

import pytest

from sklearn_ckn import _cpu_load


def _fake_times(monkeypatch, idle_fractions):
    """``/proc/stat`` readings in which core ``i`` idles ``idle_fractions[i]`` of the time."""
    cpus = set(range(len(idle_fractions)))
    monkeypatch.setattr(_cpu_load.os, "sched_getaffinity", lambda pid: cpus, raising=False)
    calls = itertools.count()

    def times(requested):
        k = next(calls)  # 0: before, 1: after the interval of 100 ticks per core
        return {cpu: (int(k * 100 * idle_fractions[cpu]), k * 100) for cpu in requested}

    monkeypatch.setattr(_cpu_load, "_cpu_times", times)


@pytest.mark.parametrize("idle, expected", [
    ((1.0, 1.0), 2),   # quiet
    ((0.0, 1.0), 1),   # another process keeps one core busy
    ((0.0, 0.0), 1),   # both busy: still one thread
    ((0.5, 0.6), 1),   # half of each: about one core free
    ((0.9, 0.95, 1.0, 0.1), 3),
])
def test_free_cores_sums_the_idle_fractions(monkeypatch, idle, expected):
    _fake_times(monkeypatch, idle)
    assert _cpu_load.free_cores(seconds=0) == expected


def test_without_proc_stat_the_load_average_is_used(monkeypatch):
    def missing(cpus):
        raise OSError("no /proc/stat")

    monkeypatch.setattr(_cpu_load, "_cpu_times", missing)
    monkeypatch.setattr(_cpu_load, "usable_cores", lambda: 4)
    monkeypatch.setattr(_cpu_load.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert _cpu_load.free_cores(seconds=0) == 3
    monkeypatch.setattr(_cpu_load.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert _cpu_load.free_cores(seconds=0) == 1


def test_free_cores_reads_this_machine():
    assert 1 <= _cpu_load.free_cores() <= _cpu_load.usable_cores()
