"""How numbers are written: durations, bytes, ratios and spreads, in the terminal ("us") and
in docs/benchmarks.md ("µs")."""

from __future__ import annotations

import statistics

from .common import Samples

KB = 1 << 10
MB = 1 << 20


def big(x: float) -> str:
    if x >= 10_000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}"


def fmt_ns(ns: float, micro: str = "us") -> str:
    if ns >= 10**9:
        return f"{ns / 1e9:,.0f} s" if ns >= 100 * 10**9 else f"{ns / 1e9:.2f} s"
    if ns >= 10**6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 10**3:
        return f"{ns / 1e3:.1f} {micro}"
    return f"{ns:.0f} ns"


def fmt_bytes(n: float) -> str:
    if abs(n) >= MB:
        return f"{n / MB:.1f} MB"
    if abs(n) >= KB:
        return f"{n / KB:.1f} KB"
    return f"{n:.0f} B"


def spread(samples: Samples, micro: str) -> str:
    if len(samples) < 4:
        return f"n={len(samples)}"
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"n={len(samples)}, interquartile range {fmt_ns(q1, micro)} to {fmt_ns(q3, micro)}"
