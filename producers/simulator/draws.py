"""Random draws: seeded generators, weighted picks, log-normals, distinct integers, Zipf weights."""

from __future__ import annotations

import numpy as np


def _rng(seed: int, stream: int) -> np.random.Generator:
    """The generator of one independent ``stream`` of a run (population, sessions, pages ...)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,))))


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities ``p`` (need not sum to exactly 1)."""
    cum = np.cumsum(p)
    return np.minimum(np.searchsorted(cum, rng.random(size) * cum[-1], side="right"), len(p) - 1)


def _pick_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of ``rows``, a column index drawn from that row of probability ``table``."""
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows))
    return np.minimum((u[:, None] >= cum[rows]).sum(axis=1), table.shape[1] - 1)


def _pick_cum(rng: np.random.Generator, cum: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the weights whose running total is ``cum``."""
    u = rng.random(size) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


def _lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int
) -> np.ndarray:
    """Log-normal draws around ``median``: durations and delays with a long tail."""
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


def _unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers in [low, high), in random order."""
    if high - low < 4 * n:
        return rng.permutation(np.arange(low, high))[:n]
    values = rng.integers(low, high, size=n)
    while True:
        _, first = np.unique(values, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            return values
        values[duplicate] = rng.integers(low, high, size=int(duplicate.sum()))


def _zipf(n: int, total: float, s: float = 1.0) -> list[float]:
    """``n`` Zipf-like popularity weights summing to ``total``, the most popular first."""
    w = 1.0 / np.arange(1, n + 1) ** s
    return (w * total / w.sum()).tolist()
