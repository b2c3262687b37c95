"""The device's own figures for the heartbeat: memory and CPU temperature, read from Linux's /proc and /sys.

Memory is the whole machine's, not this process's: `memory_used_bytes` is MemTotal − MemAvailable (what the
kernel could not hand to a new program without swapping), because what fails on a device is the box running
out, whichever process (the detector child, a neighbour) holds the memory. A figure that cannot be read is left
out of the heartbeat rather than reported as 0.
"""

from __future__ import annotations

from pathlib import Path

MEMINFO = Path("/proc/meminfo")
THERMAL = Path("/sys/class/thermal")


def memory(meminfo: Path = MEMINFO) -> dict[str, int]:
    """`{"memory_total_bytes", "memory_used_bytes"}` from /proc/meminfo, or {} where it is not readable."""
    try:
        lines = meminfo.read_text().splitlines()
    except OSError:
        return {}
    kib: dict[str, int] = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key] = int(parts[0])
    if "MemTotal" not in kib or "MemAvailable" not in kib:
        return {}
    total, available = kib["MemTotal"] * 1024, kib["MemAvailable"] * 1024
    return {"memory_total_bytes": total, "memory_used_bytes": max(0, total - available)}


def temperature_c(thermal: Path = THERMAL) -> float | None:
    """The hottest readable thermal zone in °C (`thermal_zone*/temp` holds millidegrees), or None if none is
    readable (a container, a VM, a board without sensors). Readings outside -100..200 °C are sensor noise."""
    readings = []
    for zone in sorted(thermal.glob("thermal_zone*/temp")):
        try:
            millidegrees = int(zone.read_text().strip())
        except (OSError, ValueError):
            continue
        if -100_000 <= millidegrees <= 200_000:
            readings.append(millidegrees / 1000)
    return round(max(readings), 1) if readings else None
