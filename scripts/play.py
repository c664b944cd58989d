"""Play against an agent in a pygame window.

    python scripts/play.py runs/<run>                     # connect four: click a column
    python scripts/play.py leagues/<league> --seat second # against its main agent
    python scripts/play.py alphabeta:4 --env-id connect_four
    python scripts/play.py runs/<run>@mcts:200            # against its tree search
    python scripts/play.py runs/<cartpole run>            # Gymnasium: the arrow keys

Boards are played with the mouse (a column in connect four, a cell in tic-tac-toe); an
illegal click is refused with a message. Keys: u undo, s switch seats (new game), r new
game, q quit. The panel shows the agent's probabilities for its reply and its value;
Gymnasium envs are played with the keyboard (the env's own layout, or the arrow keys for
CartPole, MountainCar, Acrobot and LunarLander) while the agent's advice is shown.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Literal

import tyro

from ludus.agents import CheckpointError
from ludus.league.ui.window import ViewOptions, Window


@dataclass
class Args(ViewOptions):
    """Play against an agent."""

    agent: Annotated[str, tyro.conf.Positional]
    """Checkpoint, run folder, league folder (its main agent), league member or bot; a
    checkpoint with a value head searches with a suffix @mcts:N or @gumbel:N."""
    seat: Literal["first", "second"] = "first"
    """Move first or second (s switches during play)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    from ludus.league.ui.scenes import make_scene

    try:
        scene = make_scene(args.agent, "human", args.env_id, args.seed, args.greedy)
        if args.seat == "first" and len(scene.seats) == 2:
            scene.seats.reverse()  # seats[0] moves first
            scene.restart()
        window = Window(scene, args.delay, None, args.record, title="ludus play")
    except (CheckpointError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
