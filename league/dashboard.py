"""What people see of a league: the payoff matrix as a heatmap image and a table, and a
console summary of the players."""

from __future__ import annotations

from typing import Any

import numpy as np

from ludus.league.coordinator import League


def heatmap(matrix: np.ndarray, cell: int = 12) -> np.ndarray:
    """An (H, W, 3) uint8 image of win rates in [0, 1]: red where the row player loses, white
    at 0.5, blue where it wins; `cell` pixels per entry."""
    x = np.clip(np.asarray(matrix, dtype=np.float64), 0.0, 1.0)[..., None]
    red, white, blue = np.array([214, 39, 40]), np.array([255, 255, 255]), np.array([31, 119, 180])
    rgb = np.where(x < 0.5, red + (white - red) * (x / 0.5), white + (blue - white) * ((x - 0.5) / 0.5))
    return np.kron(rgb, np.ones((cell, cell, 1))).astype(np.uint8)


def payoff_rows(league: League) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of the payoff matrix: one row per player, its win rate against each."""
    ids = league.payoff.ids
    matrix = league.payoff.matrix()
    return ["player", *ids], [[pid, *np.round(matrix[i], 3).tolist()] for i, pid in enumerate(ids)]


def summary_table(league: League, evaluation: dict[str, float]) -> Any:
    """A rich table: learners and the best-rated frozen players (ids name their roles), with
    steps, ratings, snapshots taken, and the learners' evaluation results."""
    from rich.table import Table

    table = Table(title=f"league {league.folder.name}: {len(league.players)} players, "
                        f"{league.total_steps:,} steps, interval {league.interval}")
    evals = sorted(e for e in {k.split("/", 2)[2] for k in evaluation if k.startswith("eval/")}
                   # wandb has the rest; scores (draws count half) fit the table
                   if e not in ("average_checkpoint_nash_conv", "average_fit_kl")
                   and not e.startswith("wins_"))
    table.add_column("player", no_wrap=True)  # ids name the role: main_agent_0, ...
    for column in ("steps", "rating", "snaps", *evals):
        table.add_column(column.removeprefix("vs_"), justify="right", no_wrap=True,
                         min_width=5)
    frozen = sorted((p for p in league.players.values() if p.frozen), key=lambda p: -p.rating)
    for p in league.learners() + frozen[:5]:
        cells = [f"{evaluation[f'eval/{p.id}/{e}']:.3f}" if f"eval/{p.id}/{e}" in evaluation
                 else "" for e in evals]
        table.add_row(p.id, _compact(p.steps), f"{p.rating:.0f}", str(p.num_snapshots),
                      *cells)
    return table


def _compact(n: int) -> str:
    """1234567 -> 1.2M, 45600 -> 46k."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)
