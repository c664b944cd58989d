"""Play a checkpoint against a bot or another checkpoint, both seats, and print win/draw/loss
with 95% intervals; on a single-player env (Gymnasium, or shared:<env> teams) print the
greedy mean return of --games episodes (team returns for shared:) with a 95% interval, and
of uniform random actions for the player `random` (`evaluate.py random --env-id E`). In a
two-sided team game (shared:simple_tag) the player drives one side (its league member's, or
--side) against the opponent on the other: a checkpoint, or random agents.

    python scripts/evaluate.py runs/<run> --opponent alphabeta:2 --games 200

Players are checkpoint directories, run folders (their latest checkpoint), league folders
(their first main agent) or bots: random, greedy, alphabeta:D, alphabeta-h:D, minimax. A
checkpoint with a value head thinks with tree search when its name ends in @mcts:N or
@gumbel:N (N simulations per move): `runs/<run>@mcts:200`. The game is the checkpoint's env
unless --env-id says otherwise.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import tyro

from ludus import envs
from ludus.agents import CheckpointError, load_policy
from ludus.agents.checkpoint import read_meta
from ludus.agents.evaluate import UniformPolicy, evaluate
from ludus.envs.parallel import Sides, side_action_space, sides_of
from ludus.league.arena import checkpoint_of, load_player, play_match
from ludus.league.bots import is_bot
from ludus.league.search import split_search
from ludus.league.teams import member_side, play_team_match, rival_side


@dataclass
class Args:
    """Evaluate a player against an opponent."""

    player: Annotated[str, tyro.conf.Positional]
    """Checkpoint directory or run folder (or a bot name); @mcts:N searches."""
    opponent: str = "random"
    """Bot name or checkpoint."""
    games: int = 200
    """Games to play, half of them with the player moving first."""
    env_id: str | None = None
    """Game to play (default: the player's checkpoint's env)."""
    greedy: bool = True
    """Checkpoints play their most probable move (two greedy checkpoints replay the same two
    games: use --no-greedy to sample)."""
    opening_moves: int = 0
    """Start each game after 0..this many random moves (variety between greedy players)."""
    seed: int = 0
    """Seed of the bots', openings' and sampling players' randomness."""
    side: str | None = None
    """Team games: the side the player drives (default: its league member's side)."""


def episode_returns(args: Args, env_id: str) -> int:
    """Print the greedy (or sampled) mean return of args.games episodes of a policy, or of
    uniform random actions for the player `random`."""
    team = envs.team_size(env_id)
    if args.player == "random":
        probe = envs.make(env_id, team)
        policy = UniformPolicy(probe.single_action_space, args.seed)
        probe.close()
    else:
        policy = load_policy(checkpoint_of(args.player))
    returns = evaluate(policy, lambda n, seed, **kw: envs.make(env_id, n, seed),
                       args.games * team, seed=args.seed, deterministic=args.greedy)
    rng = np.random.default_rng(args.seed)
    means = rng.choice(returns, (10_000, len(returns))).mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    kind = "team return" if team > 1 else "return"
    print(f"{args.player} on {env_id}: mean {kind} {returns.mean():.1f} "
          f"[{low:.1f}, {high:.1f}] (95% bootstrap), std {returns.std():.1f}, "
          f"{len(returns)} episodes")
    return 0


def team_match(args: Args, env_id: str, sides: Sides) -> int:
    """Print the win rate of the player's side against the opponent's in a team game."""
    side = args.side or member_side(args.player)
    if side is None:
        raise ValueError(f"{env_id} is a team game: name the player's side with --side "
                         f"({' or '.join(sides.names)})")
    sides.index(side)
    other = rival_side(sides, side)

    def team(spec: str, its_side: str, seed: int) -> Any:
        if spec == "random":
            return UniformPolicy(side_action_space(env_id, its_side), seed)
        return load_policy(checkpoint_of(spec))

    result = play_team_match(env_id, side, team(args.player, side, args.seed),
                             team(args.opponent, other, args.seed + 1), args.games,
                             seed=args.seed, deterministic=args.greedy)
    print(f"{args.player} ({side}) vs {args.opponent} ({other}) on {env_id}")
    print(result.report(sides.names))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv)
    try:
        env_id = args.env_id
        checkpoints = [s for s in (args.player, args.opponent) if not is_bot(s)]
        if env_id is None and checkpoints:
            env_id = read_meta(checkpoint_of(split_search(checkpoints[0])[0]))["env_id"]
        if env_id is None:
            raise ValueError("two bots: name the game with --env-id")
        sides = sides_of(env_id)
        if sides is not None:
            return team_match(args, env_id, sides)
        if not envs.is_game(env_id):
            return episode_returns(args, env_id)
        player = load_player(args.player, args.seed)
        opponent = load_player(args.opponent, args.seed + 1)
        result = play_match(env_id, player, opponent, args.games, deterministic=args.greedy,
                            opponent_deterministic=args.greedy,
                            opening_moves=args.opening_moves, seed=args.seed)
    except (CheckpointError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.player} vs {args.opponent} on {env_id}")
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
