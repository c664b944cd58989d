"""The payoff matrix of a league (AlphaStar, Vinyals et al. 2019): decayed win/draw/loss/game
counters per ordered pair of players, and the win rates that drive matchmaking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

OUTCOMES = ("win", "draw", "loss")


class Payoff:
    """Counters indexed by player ids; `counts[i, j] = (wins, draws, losses, games)` of i
    against j. Before each new result the pair's counters are multiplied by `decay`, so
    recent games weigh more (AlphaStar's pseudocode used 0.99)."""

    def __init__(self, decay: float = 0.99, min_games: float = 0.0) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"payoff decay must be in (0, 1], got {decay}")
        self.decay, self.min_games = decay, min_games
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.counts = np.zeros((0, 0, 4))  # (P, P, 4): wins, draws, losses, games
        # Matchmaking asks for the same rows many times between two results (one draw per
        # new game); the cache is dropped at every change.
        self._cache: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def add(self, player: str) -> None:
        """A new player with no games."""
        if player in self.index:
            raise ValueError(f"player {player!r} is already in the payoff matrix")
        self.index[player] = len(self.ids)
        self.ids.append(player)
        p = len(self.ids)
        counts = np.zeros((p, p, 4))
        counts[: p - 1, : p - 1] = self.counts
        self.counts = counts
        self._cache.clear()

    def _idx(self, player: str) -> int:
        try:
            return self.index[player]
        except KeyError:
            raise KeyError(f"player {player!r} is not in the payoff matrix") from None

    def update(self, home: str, away: str, outcome: str) -> None:
        """Record one game of `home` against `away`: outcome "win", "draw" or "loss" for home."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        i, j = self._idx(home), self._idx(away)
        self._cache.clear()
        self.counts[i, j] *= self.decay
        self.counts[j, i] *= self.decay
        k = OUTCOMES.index(outcome)
        self.counts[i, j, k] += 1
        self.counts[j, i, 2 - k] += 1
        self.counts[i, j, 3] += 1
        self.counts[j, i, 3] += 1

    def win_rate(self, home: str, away: Sequence[str]) -> np.ndarray:
        """(len(away),) win rates of `home`, a draw counting half; 0.5 where fewer than
        min_games (decayed) games were played, or none."""
        key = (home, tuple(away))
        if key in self._cache:
            return self._cache[key]
        i = self._idx(home)
        c = self.counts[i, [self._idx(a) for a in away]].reshape(-1, 4)
        games = c[:, 3]
        played = (games > 0) & (games >= self.min_games)
        rate = (c[:, 0] + 0.5 * c[:, 1]) / np.where(played, games, 1.0)
        self._cache[key] = rate = np.where(played, rate, 0.5)
        return rate

    def matrix(self) -> np.ndarray:
        """(P, P) win rates of every row player against every column player."""
        return np.stack([self.win_rate(p, self.ids) for p in self.ids]) if self.ids else \
            np.zeros((0, 0))

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready contents."""
        return {"decay": self.decay, "min_games": self.min_games, "ids": self.ids,
                "counts": self.counts.round(6).tolist()}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Payoff:
        """Inverse of state_dict; counts that are not finite, non-negative numbers of the
        right shape are a ValueError."""
        payoff = cls(float(data["decay"]), float(data["min_games"]))
        for player in data["ids"]:
            payoff.add(player)
        counts = np.asarray(data["counts"], dtype=np.float64).reshape(len(payoff.ids),
                                                                      len(payoff.ids), 4)
        if not np.isfinite(counts).all() or (counts < 0).any():
            raise ValueError("payoff counts must be finite and non-negative")
        payoff.counts = counts
        payoff._cache.clear()
        return payoff


def bradley_terry(payoff: Payoff, prior_mean: float = 1000.0, prior_sd: float = 400.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(ratings, standard deviations) of every player of `payoff`, on the Elo scale, fitted
    to its counts at once (unlike sequential Elo, whatever order the games came in):
    P(i beats j) = 1 / (1 + 10^((r_j - r_i) / 400)), a draw scoring half a win. The Bradley-
    Terry likelihood times a Gaussian prior N(prior_mean, prior_sd^2) on each rating (which
    keeps unbeaten players finite and players without games at the prior) is maximised by
    Newton's method. At the maximum the ratings average exactly `prior_mean` (the games'
    terms cancel in the sum), and the deviations are those of each rating relative to the
    average of the players with games: the inverse Hessian (Laplace's approximation)
    without the uncertainty of the common level, which no game can measure. The counts are
    the payoff's, recent games weighing more."""
    scale = np.log(10.0) / 400.0  # Elo points -> natural log-odds
    n = len(payoff.ids)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    score = payoff.counts[..., 0] + 0.5 * payoff.counts[..., 1]  # (P, P) i's score against j
    games = payoff.counts[..., 3]
    precision = 1.0 / (prior_sd * scale) ** 2
    theta = np.zeros(n)  # log-odds strengths relative to the prior mean
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        grad = (score - games * p).sum(1) - precision * theta
        weights = games * p * (1.0 - p)
        hessian = np.diag(weights.sum(1) + precision) - weights  # minus the Hessian
        step = np.linalg.solve(hessian, grad)
        theta += step
        if np.abs(step).max() < 1e-9:
            break
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    weights = games * p * (1.0 - p)
    covariance = np.linalg.inv(np.diag(weights.sum(1) + precision) - weights)
    played = games.sum(1) > 0
    centre = np.eye(n) - played[None, :] / max(played.sum(), 1)
    relative = centre @ covariance @ centre.T
    return prior_mean + theta / scale, np.sqrt(np.maximum(np.diag(relative), 0.0)) / scale
