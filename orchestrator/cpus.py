"""Keeping a worker's threads on chosen processors (``PORTEVOIX_WORKER_CPUS``, ``--cpus``).

A worker's publishing threads take turns on one interpreter lock: they never run Python on two
processors at once. When the operating system spreads them over several processors anyway, each
hand-over of the lock wakes a thread on another processor, whose caches are cold, and the lock
itself bounces between them. Under a burst this costs a third more CPU per delivery on a
two-processor machine (benchmarks: 8 accounts, one worker; 21 context switches and 2.7 moves
between processors per delivery). Keeping the worker on one processor removes it; the others stay
free for the database, the dashboard or a second worker. Off by default: for a worker that mostly
waits on the platforms, the system's own placement is as good and adapts to other loads.
"""

from __future__ import annotations

import os

#: Linux only (``os.sched_setaffinity``); elsewhere the setting is refused with a clear message.
SUPPORTED = hasattr(os, "sched_setaffinity")


class CpuError(ValueError):
    """A list of processors that cannot be used, said in French then English."""


def parse(text: str) -> set[int]:
    """``"0"``, ``"0,2"``, ``"1-3"``: the processors named; an empty text names none."""
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise CpuError(f"« {part} » n'est pas un numéro de processeur ni un intervalle comme 0-1. "
                           f"(“{part}” is not a processor number or a range like 0-1.)") from None
        if first < 0 or last < first:
            raise CpuError(f"« {part} » : intervalle de processeurs invalide. (“{part}”: invalid processor range.)")
        cpus.update(range(first, last + 1))
    return cpus


def pin(text: str) -> set[int] | None:
    """Keep this process (and every thread it starts from now on) on the processors of ``text``;
    None when ``text`` names none. Refuses processors this process may not use."""
    cpus = parse(text)
    if not cpus:
        return None
    if not SUPPORTED:
        raise CpuError("Le choix des processeurs n'est possible que sous Linux. (Choosing processors needs Linux.)")
    allowed = os.sched_getaffinity(0)
    missing = sorted(cpus - allowed)
    if missing:
        names = ", ".join(map(str, missing))
        usable = ", ".join(map(str, sorted(allowed)))
        raise CpuError(f"processeur(s) {names} indisponible(s) ici ; utilisables : {usable}. "
                       f"(Processor(s) {names} not available here; usable: {usable}.)")
    os.sched_setaffinity(0, cpus)
    return cpus
