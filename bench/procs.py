"""What the kernel says about a process tree: CPU seconds, resident memory, peak reset (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers under its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat_fields(int(entry.name))
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (all its threads)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the resident peak since start or since the last ``reset_peak``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM in /proc status")


def reset_peak(pid: int) -> None:
    """Make VmHWM equal to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """Every process's command line (shortened) and CPU seconds, to tell what else ran meanwhile."""
    seen: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pid = int(entry.name)
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            seen[pid] = (cmd.strip()[:70] or Path(f"/proc/{pid}/comm").read_text().strip(), cpu_seconds(pid))
        except (OSError, ValueError):
            continue
    return seen


def other_cpu(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
              ours: set[int], top: int = 4) -> tuple[float, list[tuple[str, float]]]:
    """CPU seconds other processes used between two snapshots, and the biggest users."""
    used = []
    for pid, (cmd, cpu) in after.items():
        if pid in ours:
            continue
        spent = cpu - before.get(pid, (cmd, 0.0))[1]
        if spent > 0:
            used.append((cmd, spent))
    used.sort(key=lambda item: -item[1])
    return sum(s for _, s in used), used[:top]


def _stat_fields(pid: int) -> list[str]:
    # The command name may hold spaces and parentheses: split after the last ')'.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()
