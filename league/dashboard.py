"""What people see of a league: the payoff matrix as a labelled heatmap and a table, the
ratings over time, and a console summary of the players. The pictures are written beside
league.json (payoff.png, ratings.png) and sent to wandb when tracking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ludus.agents.files import atomic_path
from ludus.league.coordinator import League
from ludus.league.matchmaking import ROLES

CELL_TEXT_MAX = 24  # above this many players the cells are too small for numbers
LABELS_MAX = 60  # above this many, for player names


def payoff_order(league: League) -> list[str]:
    """Player ids grouped by role (ROLES' order), best rated first within a role."""
    return [p.id for p in sorted(league.players.values(),
                                 key=lambda p: (ROLES.index(p.role), -p.rating, p.id))]


def payoff_figure(league: League) -> Any:
    """A matplotlib Figure of the win rate of each row player against each column player,
    players on both axes grouped by role and sorted by rating (named while the names fit,
    else their role groups), a colour bar, unplayed pairs grey, and the win rates written
    in the cells while they fit."""
    from matplotlib.figure import Figure

    ids = payoff_order(league)
    index = [league.payoff.index[i] for i in ids]
    rates = league.payoff.matrix()[np.ix_(index, index)] if ids else np.zeros((0, 0))
    games = league.payoff.counts[..., 3][np.ix_(index, index)] if ids else np.zeros((0, 0))
    n = len(ids)
    font = max(4.0, min(9.0, 200.0 / max(n, 1)))
    named = n <= LABELS_MAX  # beyond, ticks name the role groups
    # inches for the matrix and the tick text: capped, since the canvas (and the memory of a
    # league process drawing it) grows with their square
    cells = min(max(3.0, 0.3 * n), 10.0)
    longest = max((len(i) for i in ids), default=4) if named else max(len(r) for r in ROLES) + 6
    labels = min(longest * font / 72 * 0.65, 3.0)
    fig = Figure(figsize=(cells + labels + 2.5, cells + labels + 1.2), layout="constrained")
    ax = fig.add_subplot()
    # quads, not imshow: an image is resampled to the canvas in floats (50 MB at 200
    # players, in the league's own process)
    edges = np.arange(n + 1) - 0.5
    mesh = ax.pcolormesh(edges, edges, np.ma.masked_where(games == 0, rates),
                         cmap=_colormap().with_extremes(bad="#d9d9d9"), vmin=0.0, vmax=1.0)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)  # the first player on top
    ax.set_aspect("equal")
    fig.colorbar(mesh, ax=ax, shrink=0.8, label="win rate of the row player (draws half)")
    roles = [league.players[i].role for i in ids]
    if named:
        ticks, names = list(range(n)), ids
    else:
        groups = [(r, [k for k in range(n) if roles[k] == r]) for r in dict.fromkeys(roles)]
        ticks = [(g[0] + g[-1]) / 2 for _, g in groups]
        names = [f"{r} ({len(g)})" for r, g in groups]
    ax.set_xticks(ticks, names, rotation=90, fontsize=font)
    ax.set_yticks(ticks, names, fontsize=font)
    ax.set_xlabel("opponent")
    ax.set_ylabel("player")
    for k in range(1, n):  # lines between role groups
        if roles[k] != roles[k - 1]:
            ax.axhline(k - 0.5, color="black", linewidth=0.8)
            ax.axvline(k - 0.5, color="black", linewidth=0.8)
    if n <= CELL_TEXT_MAX:
        for r in range(n):
            for c in range(n):
                if games[r, c] > 0:
                    ax.text(c, r, f"{rates[r, c]:.2f}", ha="center", va="center",
                            fontsize=font * 0.8)
    ax.set_title(f"payoff of {league.folder.name}: {n} players, interval {league.interval}")
    return fig


def _colormap() -> Any:
    """Red where the row player loses, white at 0.5, blue where it wins."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("payoff", ["#d62728", "#ffffff", "#1f77b4"])


def rating_history(metrics: Path) -> list[tuple[int, dict[str, tuple[float, float]]]]:
    """(step, {player: (rating, sd)}) of each interval logged in a league's metrics.jsonl."""
    history = []
    if not metrics.exists():
        return history
    for line in metrics.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        ratings = {k.removeprefix("rating/"): (v, row.get(f"rating_sd/{k[7:]}") or 0.0)
                   for k, v in row.items() if k.startswith("rating/") and v is not None}
        if ratings:
            history.append((int(row["step"]), ratings))
    return history


def ratings_figure(league: League, history: list[tuple[int, dict[str, tuple[float, float]]]]
                   ) -> Any:
    """A matplotlib Figure of the learners' and fixed members' ratings over the league's
    steps, each with a band of one standard deviation; snapshots as points where they
    were taken."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    shown = [p.id for p in league.players.values() if p.role != "snapshot"]
    for pid in shown:
        points = [(step, *r[pid]) for step, r in history if pid in r]
        if not points:
            continue
        steps, rating, sd = (np.array(c, dtype=np.float64) for c in zip(*points, strict=True))
        (line,) = ax.plot(steps, rating, label=pid, marker="." if len(steps) < 30 else None)
        ax.fill_between(steps, rating - sd, rating + sd, color=line.get_color(), alpha=0.15)
    snaps = [p for p in league.players.values() if p.role == "snapshot"]
    if snaps:
        ax.scatter([p.steps for p in snaps], [p.rating for p in snaps], s=10, color="grey",
                   label="snapshots (now)", zorder=3)
    ax.set_xlabel("league steps")
    ax.set_ylabel("rating (Bradley-Terry, Elo scale)")
    ax.set_title(f"ratings of {league.folder.name}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


def write_pictures(league: League) -> dict[str, Path]:
    """payoff.png and ratings.png beside league.json, written atomically."""
    out = {}
    history = rating_history(league.folder / "metrics.jsonl")
    for name, fig in (("payoff", payoff_figure(league)), ("ratings", ratings_figure(league, history))):
        path = league.folder / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100)
        out[name] = path
    return out


def payoff_rows(league: League) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of the payoff matrix: one row per player, its win rate against each."""
    ids = league.payoff.ids
    matrix = league.payoff.matrix()
    return ["player", *ids], [[pid, *np.round(matrix[i], 3).tolist()] for i, pid in enumerate(ids)]


def summary_table(league: League, evaluation: dict[str, float]) -> Any:
    """A rich table: learners and the best-rated frozen players (ids name their roles), with
    steps, ratings and their deviations, snapshots taken, and the learners' evaluation
    results."""
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
        table.add_row(p.id, _compact(p.steps), f"{p.rating:.0f}±{p.rating_sd:.0f}",
                      str(p.num_snapshots), *cells)
    return table


def _compact(n: int) -> str:
    """1234567 -> 1.2M, 45600 -> 46k."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)
