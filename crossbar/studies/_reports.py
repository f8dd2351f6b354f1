"""Text reports shared by the studies: durations, and accuracy against time since programming."""

from __future__ import annotations

#: The times a trained network is evaluated at: 1 s, 1 hour, 1 day, 1 month (30 days), 1 year.
DRIFT_TIMES = (1.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0)


def format_drift_table(results: dict) -> str:
    """Accuracy against time since programming: median [min, max] over chips, per network;
    a `digital` column where the networks carry their digital accuracy, and a row for the
    non-spiking network of equal size where `results` has one (`ann`)."""
    times = results["times_s"]
    rows = dict(results["networks"])
    if "ann" in results:
        rows["mlp (ann)"] = results["ann"]
    digital = any("digital" in r for r in rows.values())
    cols = [f"{format_duration(t):>19}" for t in times]
    head = f"{'network':>15} | " + (f"{'digital':>7} | " if digital else "") + " | ".join(cols)
    n_chips = results.get("n_chips") or len(next(iter(rows.values()))["accuracy"])
    lines = [f"test accuracy (%), median [min, max] of {n_chips} chips", head, "-" * len(head)]
    for name, r in rows.items():
        cells = [
            f"{100 * m:5.1f} [{100 * lo:4.1f}, {100 * hi:5.1f}]"
            for m, lo, hi in zip(r["median"], r["min"], r["max"])
        ]
        d = f"{100 * r['digital']:7.1f} | " if "digital" in r else f"{'':>7} | "
        lines.append(
            f"{name:>15} | " + (d if digital else "") + " | ".join(f"{c:>19}" for c in cells)
        )
    return "\n".join(lines)


def format_duration(t: float) -> str:
    """Seconds as the largest whole unit that fits: `1 s`, `1 h`, `1 day`, `1 year`."""
    for unit, seconds in (("year", 365 * 86400.0), ("day", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if t >= seconds:
            n = t / seconds
            label = f"{n:g}" if n == int(n) else f"{n:.3g}"
            plural = "s" if unit in ("year", "day") and n != 1 else ""
            return f"{label} {unit}{plural}"
    return f"{t:g} s"
