"""Record game datasets from matches (any bot, checkpoint or league member against any other)
and clone them into a league-ready checkpoint: AlphaStar's supervised starting point."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ludus import envs
from ludus.agents.files import atomic_write
from ludus.envs.datasets import GameDataset, MoveRecords
from ludus.envs.render import BoardRenderer, board_of, renderer_game
from ludus.league.arena import choose_move, load_player, play_match


class Recorder:
    """Plays as `player` and writes down every position it meets: observation, legal moves,
    its move probabilities and the move it chose; `observe` attaches each game's outcome."""

    def __init__(self, player: Any, seed: int = 0) -> None:
        self.player, self.rng = player, np.random.default_rng(seed)
        self.pending: dict[int, list[tuple[Any, ...]]] = {}
        self.rows: list[tuple[Any, ...]] = []  # (obs, mask, action, probs, outcome, game)
        self.num_games = 0

    @property
    def recurrent(self) -> bool:
        return getattr(self.player, "recurrent", False)

    def initial_state(self, batch_size: int) -> Any:
        return self.player.initial_state(batch_size)

    def act(self, obs: Any, state: Any = None, action_mask: Any = None,
            deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """The player's move per env (sampled, or uniform among its most probable moves when
        deterministic), remembered with what it saw."""
        probs, state = self.player.action_probs(obs, state, action_mask)
        probs = np.asarray(probs, dtype=np.float64)
        actions = np.array([choose_move(p, self.rng, deterministic) for p in probs])
        mask = obs["action_mask"] if action_mask is None else action_mask
        for i in range(len(actions)):
            self.pending.setdefault(i, []).append(
                (obs["observation"][i], mask[i], actions[i], probs[i] / probs[i].sum()))
        return actions, state

    def observe(self, reward: np.ndarray, done: np.ndarray) -> None:
        """Close the games that ended: their positions get the final result."""
        for i in np.flatnonzero(done):
            outcome = float(np.sign(reward[i]))
            for row in self.pending.pop(int(i), []):
                self.rows.append((*row, outcome, self.num_games))
            self.num_games += 1

    def dataset(self, game: str, **info: Any) -> GameDataset:
        """Every finished game's positions (unfinished ones are dropped)."""
        if not self.rows:
            raise ValueError("nothing was recorded: no game finished")
        obs, mask, action, probs, outcome, index = (np.stack(c) for c in zip(*self.rows, strict=True))
        return GameDataset(game, obs, mask.astype(np.int8), action.astype(np.int64),
                           probs.astype(np.float32), outcome.astype(np.float32),
                           index.astype(np.int64), {"num_games": self.num_games, **info})


def game_frames(game: str, players: list[Any], seed: int = 0, max_moves: int = 200
                ) -> list[np.ndarray]:
    """One game of players[0] (moving first) against players[1], each playing its most
    probable move (ties broken by `seed`), drawn off-screen by the game's board renderer:
    one (H, W, 3) picture per position, the first the empty board."""
    renderer = BoardRenderer(renderer_game(game))
    board = envs.make_game(game, 1)
    board.reset()
    rng = np.random.default_rng(seed)
    states = [player.initial_state(1) for player in players]

    def picture() -> np.ndarray:
        return renderer.frame(board_of(board.observation(seat=np.array([0]))[0]))

    frames = [picture()]
    for _ in range(max_moves):
        mover = int(board.to_move[0])
        obs = {"observation": board.observation()[:1], "action_mask": board.action_mask()[:1]}
        probs, states[mover] = players[mover].action_probs(obs, states[mover])
        action = choose_move(np.asarray(probs[0], dtype=np.float64), rng, greedy=True)
        _, terminated, truncated = board.play(np.array([action]), np.array([0]))
        frames.append(picture())
        if terminated[0] or truncated[0]:
            break
    return frames


def save_dataset(data: GameDataset, path: Path | str) -> Path:
    """Write a game dataset as an .npz, atomically and durably."""
    return atomic_write(path, data.to_bytes())


def record_moves(game: str, teacher: str, opponent: str, num_games: int,
                 opening_moves: int = 0, seed: int = 0, num_envs: int = 64) -> MoveRecords:
    """`num_games` whole games of `teacher` against `opponent` (specs as load_player takes
    them; seats alternate game by game; each plays its most probable move, ties at random)
    as move sequences from the first move, each game starting with 0..`opening_moves`
    random moves."""
    players = [load_player(teacher, seed), load_player(opponent, seed + 1)]
    n = min(num_games, num_envs)
    board = envs.make_game(game, n)
    board.reset()
    rng = np.random.default_rng(seed)
    length = board.rows * board.cols
    moves = np.full((num_games, length), -1, dtype=np.int8)
    openings = rng.integers(opening_moves + 1, size=num_games)
    slot = np.arange(n)  # which game each board plays
    plies = np.zeros(n, dtype=np.int64)
    started, done = n, 0
    while done < num_games:
        live = np.flatnonzero(slot >= 0)
        actions = np.zeros(n, dtype=np.int64)
        mask = board.action_mask()
        seats = board.to_move[live]
        teacher_to_move = seats == slot[live] % 2  # the teacher sits in seat (game % 2)
        random = plies[live] < openings[slot[live]]
        for who, rows in ((0, live[teacher_to_move & ~random]),
                          (1, live[~teacher_to_move & ~random])):
            if len(rows):
                obs = {"observation": board.observation(rows), "action_mask": mask[rows]}
                probs, _ = players[who].action_probs(obs)
                actions[rows] = [choose_move(np.asarray(p, dtype=np.float64), rng, True)
                                 for p in probs]
        rows = live[random]
        actions[rows] = [rng.choice(np.flatnonzero(mask[r])) for r in rows]
        _, terminated, truncated = board.play(actions[live], live)
        moves[slot[live], plies[live]] = actions[live]
        plies[live] += 1
        for r in live[terminated | truncated]:
            done += 1
            board.reset(np.array([r]))
            plies[r] = 0
            slot[r] = started if started < num_games else -1
            started += started < num_games
    return MoveRecords(game, moves, openings, {"teacher": teacher, "opponent": opponent,
                                                "opening_moves": opening_moves, "seed": seed})


def record(game: str, teacher: str, opponent: str, num_games: int, opening_moves: int = 0,
           deterministic: bool = True, seed: int = 0) -> GameDataset:
    """`num_games` games of `teacher` against `opponent` (specs as load_player takes them:
    bots, checkpoints, league folders), both seats, recording the teacher's positions.
    Random openings of 0..`opening_moves` moves vary the positions."""
    recorder = Recorder(load_player(teacher, seed), seed)
    play_match(game, recorder, load_player(opponent, seed + 1), num_games,
               deterministic=deterministic, opening_moves=opening_moves, seed=seed,
               num_envs=min(num_games, 64), observer=recorder.observe)
    return recorder.dataset(game, teacher=teacher, opponent=opponent,
                            opening_moves=opening_moves, seed=seed)


def clone_checkpoint(data: GameDataset, out: Path | str, config: str | None = None,
                     epochs: int = 30, seed: int = 0, env_id: str | None = None, **fit: Any
                     ) -> dict[str, float]:
    """Behaviour-clone `data` into a checkpoint at `out` with the net of the league learners
    of `env_id` (default the recorded game; its shipped config, or `config`), so
    `scripts/league.py --init out` starts from it. Returns the cloning metrics (held-out
    agreement with the teacher, losses)."""
    from ludus.agents.bc import clone_policy
    from ludus.agents.checkpoint import save_checkpoint, space_to_json
    from ludus.agents.registry import make_agent, net_kind
    from ludus.league.config import LeagueConfig, learner_configs

    game = env_id or data.game
    algo, algo_cfg, _ = learner_configs(LeagueConfig(env_id=game, config=config))
    env = envs.make(game, 1, opponent=load_player("random"))
    obs_space, action_space = env.single_observation_space, env.single_action_space
    if tuple(data.obs.shape[1:]) != tuple(obs_space["observation"].shape):
        raise ValueError(f"recorded observations have shape {tuple(data.obs.shape[1:])} but "
                         f"{game} gives {tuple(obs_space['observation'].shape)}")
    agent = make_agent(algo, algo_cfg, obs_space, action_space, seed)
    train, held = data.split(0.1, seed)
    metrics = clone_policy(agent.net, data.obs, data.probs, data.mask, train, held,
                           epochs=epochs, seed=seed, **fit)
    meta = {"algo": algo, "net_kind": net_kind(algo), "env_id": game,
            "net_spec": algo_cfg.net.to_json(), "obs_space": space_to_json(obs_space),
            "action_space": space_to_json(action_space), "global_step": 0, "num_updates": 0,
            "config": dataclasses.asdict(algo_cfg),
            "behaviour_cloning": {**data.info, **metrics}}
    save_checkpoint(out, agent.net, meta)
    return metrics


def behaviour_clone(out: Path | str, env_id: str = "connect_four", teacher: str = "alphabeta-h:4",
                    opponent: str | None = None, num_games: int = 9000, opening_moves: int = 8,
                    dataset: Path | str | None = None, epochs: int = 60, seed: int = 0,
                    eval_games: int = 200) -> dict[str, float]:
    """Record `num_games` of `teacher` (against `opponent`, default itself) or read
    `dataset`, add mirror images, clone into `out`/checkpoint, and measure the clone:
    held-out agreement with the teacher and its wins against random. The dataset is kept as
    `out`/dataset.npz."""
    from ludus.envs.datasets import mirrored

    out = Path(out)
    if dataset is not None:
        data = GameDataset.load(dataset)
    else:
        data = record(env_id, teacher, opponent or teacher, num_games, opening_moves, seed=seed)
        save_dataset(data, out / "dataset.npz")
    with contextlib.suppress(ValueError):  # a game without a known symmetry: as recorded
        data = mirrored(data)
    metrics = clone_checkpoint(data, out / "checkpoint", epochs=epochs, seed=seed, env_id=env_id,
                               patience=6, weight_decay=1e-4)
    result = play_match(env_id, load_player(str(out / "checkpoint")), load_player("random", seed),
                        eval_games)
    return {**metrics, "positions": float(len(data)),
            "wins_vs_random": sum(result.wins) / result.games}
