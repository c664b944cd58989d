"""Watch two players in a pygame window: league members, checkpoints or bots.

    python scripts/watch.py runs/<run> --vs alphabeta:2
    python scripts/watch.py leagues/<league>                      # main agent vs its best rival
    python scripts/watch.py leagues/<league> --list               # the members
    python scripts/watch.py leagues/<league>/main_agent_0 --vs main_exploiter_0.1
    python scripts/watch.py runs/<cartpole run>                   # a Gymnasium env's frames
    python scripts/watch.py runs/<run> --vs random --games 2 --record match.mp4
    python scripts/watch.py runs/<run>@mcts:200 --vs alphabeta:4  # thinking with tree search

Keys: space pause, right arrow one move, + / - speed, r restart, q quit. The panel shows the
players (names, roles, ratings), the score and the probabilities and value of the player to
move (for a searching player, its visit counts and root value).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import tyro

from ludus.agents import CheckpointError
from ludus.league.ui.window import ViewOptions, Window


@dataclass
class Args(ViewOptions):
    """Watch a match."""

    player: Annotated[str, tyro.conf.Positional]
    """Checkpoint, run folder, league folder (its main agent), league member
    (leagues/<league>/<player id>) or bot; @mcts:N or @gumbel:N after a checkpoint searches."""
    vs: str | None = None
    """Opponent: the same kinds, or a member id of the player's league (default: the best-rated
    other member of the league, else random)."""
    list: bool = False
    """Print the league's members (id, role, rating) and exit."""
    games: int | None = None
    """Close after this many games (default: until q)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    from ludus.league.ui.scenes import make_scene, members

    try:
        if args.list:
            for member, role, rating in members(args.player):
                print(f"{member:28s} {role:18s} {rating:7.0f}")
            return 0
        scene = make_scene(args.player, args.vs, args.env_id, args.seed, args.greedy)
        window = Window(scene, args.delay, args.games, args.record, title="ludus watch")
    except (CheckpointError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    window.run()
    if args.record:
        print(f"recorded {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
