"""Train a league on one machine: every learner (main agents, main exploiters, league
exploiters) takes turns collecting one rollout against opponents chosen by the coordinator's
matchmaking and learning from it; finished games report to the payoff; each role's rule
takes snapshots and resets; every interval the main agents are evaluated, everything is
tracked and the whole league is saved so that a killed run resumes where it was saved.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ludus import envs
from ludus.agents import RunConfig, Trainer
from ludus.agents.checkpoint import load_weights, save_checkpoint
from ludus.agents.evaluate import write_video
from ludus.agents.files import WriterLock, check_id
from ludus.agents.registry import algo_entry, from_dict, make_agent
from ludus.agents.tracking import Tracker
from ludus.envs.parallel import sides_of
from ludus.envs.render import renderer_game
from ludus.league.arena import (
    SeatedOpponents,
    check_two_player_zero_sum,
    load_player,
    play_match,
)
from ludus.league.bots import is_bot
from ludus.league.config import (
    LeagueConfig,
    default_eval_bots,
    exploiter_configs,
    fixed_id,
    is_shipped,
    learner_configs,
)
from ludus.league.coordinator import League, LeagueError, learner_ids, next_learner
from ludus.league.dashboard import payoff_rows, summary_table, write_pictures
from ludus.league.exploitability import exact_is_feasible
from ludus.league.matchmaking import Player, pfsp_weights
from ludus.league.payoff import Payoff
from ludus.league.recorder import game_frames
from ludus.league.search import SearchPlayer, split_search
from ludus.league.selfplay import SelfPlayConfig
from ludus.league.snapshots import SnapshotStore, copy_policy, freeze_files
from ludus.league.teams import TeamResults, evaluate_team_mains, rival_side


class LeagueSeats(SeatedOpponents):
    """The opponents of one learner's games, chosen by the league's matchmaking.

    Each rollout draws a menu of matches (`draw`) and every game starting in it takes one of
    them uniformly: each game's opponent still has the matchmaking distribution, but a batch
    of games meets a few opponents (a few batched forward passes per move) instead of one per
    game. `find` gives the player for a key: locally a learner's current parameters or a
    frozen member from the snapshot store; on a rollout worker a (player, version) cached.
    """

    def __init__(self, draw: Callable[[], list[str]], find: Callable[[str], Any],
                 num_envs: int, epsilon: float, seed: int, group: int = 1) -> None:
        super().__init__(num_envs, epsilon, seed, group)
        self.draw, self.find = draw, find
        self.menu: list[str] = []

    def refresh(self) -> None:
        """Draw the next rollout's matches."""
        self.menu = self.draw()

    def choose(self, count: int) -> list[str]:
        if not self.menu:
            self.refresh()
        return [self.menu[i] for i in self.rng.integers(len(self.menu), size=count)]

    def player(self, key: str) -> Any:
        return self.find(key)


class Results(gym.vector.VectorWrapper):
    """Reports each finished game of a learner (opponent, seat, outcome by the sign of its
    return) to `report`."""

    def __init__(self, env: envs.Versus, seats: LeagueSeats,
                 report: Callable[[str, int, str], None]) -> None:
        super().__init__(env)
        self.versus, self.seats, self.report = env, seats, report
        self.returns = np.zeros(env.num_envs)

    def reset(self, **kwargs: Any) -> Any:
        self.returns[:] = 0.0
        return self.env.reset(**kwargs)

    def step(self, actions: Any) -> Any:
        seat, away = self.versus.learner_seat.copy(), self.seats.seat_of.copy()
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self.returns += reward
        for i in np.flatnonzero(terminated | truncated):
            r = self.returns[i]
            self.report(away[i], int(seat[i]), "win" if r > 0 else "loss" if r < 0 else "draw")
            self.returns[i] = 0.0
        return obs, reward, terminated, truncated, info


class LeagueRunner:
    """One league folder, trained in this process."""

    backend = "local"

    def __init__(self, cfg: LeagueConfig, resume: Path | str | None = None) -> None:
        """A new league from `cfg`, or with `resume` the league saved in that folder (its
        stored settings, with cfg's budget). The folder is locked for as long as this
        runner lives (until train() returns, or close())."""
        self.cfg = cfg = dataclasses.replace(cfg, backend=self.backend)  # as league.json says
        cfg.validate()
        if resume is not None:
            self.folder = Path(resume)
            League.load(self.folder)  # a bad league.json fails before anything is written
        else:
            name = cfg.name or f"{cfg.env_id.replace(':', '_')}__league__{cfg.seed}__{int(time.time())}"
            self.folder = Path(cfg.league_dir) / check_id(name, "league name")
        self.lock = WriterLock(self.folder)  # before the log is cut or anything is written
        self.trainers: dict[str, Trainer] = {}
        self.runs: dict[str, RunConfig] = {}
        self.games: dict[str, list[tuple[str, int, str]]] = {}  # each learner's, this rollout
        self.epoch, self.jobs = uuid.uuid4().hex[:12], 0  # match ids never repeat
        self.tracker: Tracker | None = None
        self.closed = False
        try:
            self._open(resume is not None)
        except BaseException:
            self.close()
            raise

    def _open(self, resume: bool) -> None:
        cfg = self.cfg
        if resume:
            self.league = League.load(self.folder, resume=True)
        else:
            if (self.folder / "league.json").exists():
                backend = League.load(self.folder).extra.get("config", {}).get("backend", "local")
                raise LeagueError(f"{self.folder} already holds a league (run by the {backend} "
                                  f"backend): resume it with --resume, on either backend")
            self.league = League(self.folder, cfg.env_id, cfg.matchmaking,
                                 Payoff(cfg.payoff_decay, cfg.min_games), cfg.seed)
        check_two_player_zero_sum(cfg.env_id)
        self.sides = sides_of(cfg.env_id)
        self.algo, self.algo_cfg, self.selfplay = self._learner_configs(resume)
        self.exploiters = self._exploiter_configs(resume)
        if self.exploiters is not None and self.league.matchmaker.cfg.reset_to == "main_agent":
            raise LeagueError("reset_to main_agent needs exploiters with the main agents' "
                              "algorithm and net (no --exploiter-config)")
        if self.sides is not None:
            self._check_team_settings()
        self._check_backend()
        self.store = SnapshotStore(self.league, cfg.snapshot_cache, cfg.seed)
        self.eval_bots = cfg.eval_bots or default_eval_bots(cfg.env_id)
        self.live: dict[str, Any] = {}
        self.seats: dict[str, LeagueSeats] = {}
        if not resume:
            self._create()
        else:
            for player in self.league.learners():
                self._add_learner(player, Path(self.league.checkpoint_path(player)))
        self.tracker = Tracker(self.folder, self.folder.name,
                               {"league": dataclasses.asdict(cfg),
                                "algo": dataclasses.asdict(self.algo_cfg)},
                               console=cfg.console, total=cfg.total_timesteps,
                               wandb=cfg.wandb if cfg.track else None,
                               wandb_run_id=self.league.extra.get("wandb_run_id"),
                               tensorboard=cfg.tensorboard,
                               resume_step=self.league.total_steps if resume else None)

    def _check_backend(self) -> None:
        """What this backend cannot run, one line each (before anything is written)."""

    def _check_team_settings(self) -> None:
        """What a team game's league cannot take, one line each."""
        cfg, name = self.cfg, self.cfg.env_id
        if cfg.fixed or cfg.init:
            raise LeagueError(f"{name}: team leagues take no --fixed or --init (each side's "
                              f"learners start from their own random init)")
        if self.exploiters is not None:
            raise LeagueError(f"{name}: team leagues have one kind of learner ({self.algo})")
        if self.selfplay.opening_moves or self.selfplay.opponent_epsilon:
            raise LeagueError(f"{name}: team games have no opening_moves or opponent_epsilon "
                              f"(set both to 0 in the learners' config)")
        if cfg.exploit_every:
            raise LeagueError(f"{name}: learned best responses (exploit_every) measure "
                              f"turn-based games only")
        if set(cfg.eval_bots or ()) - {"random"}:
            raise LeagueError(f"{name}: team leagues are evaluated against random rivals and "
                              f"each other; eval_bots can only be random")

    def _learner_configs(self, resume: bool) -> tuple[str, Any, SelfPlayConfig]:
        """The learners' settings: read from the game's config when the league starts and
        kept in league.json, so a resume reads no file that league.json names. A teacher is
        the league's own starting checkpoint (init/)."""
        stored = self.league.extra.get("learners")
        if resume and stored is not None:
            try:
                algo = stored["algo"]
                _, cfg_cls = algo_entry(algo)
                algo_cfg = from_dict(cfg_cls, stored["config"], "league.json: learners")
                selfplay = from_dict(SelfPlayConfig, stored["selfplay"], "league.json: learners")
            except (KeyError, TypeError) as exc:
                raise LeagueError(f"{self.folder / 'league.json'}: learners: {exc}") from None
        else:
            if resume and self.cfg.config is not None and not is_shipped(self.cfg.config):
                raise LeagueError(f"{self.folder / 'league.json'} keeps no learner settings "
                                  f"and names a config file ({self.cfg.config!r}) outside it")
            algo, algo_cfg, selfplay = learner_configs(self.cfg)
            self.league.extra["learners"] = {"algo": algo, "config": dataclasses.asdict(algo_cfg),
                                             "selfplay": dataclasses.asdict(selfplay)}
        if getattr(algo_cfg, "teacher", None) is not None:
            algo_cfg = dataclasses.replace(algo_cfg, teacher=str(self.folder / "init"))
        return algo, algo_cfg, selfplay

    def close(self) -> None:
        """Close the learners, the tracker and the folder lock (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            for trainer in self.trainers.values():
                trainer.close()
            if self.tracker is not None:
                self.tracker.close()
        finally:
            self.lock.release()

    # --- members ---------------------------------------------------------------------------
    def _create(self) -> None:
        cfg, league = self.cfg, self.league
        for spec in cfg.fixed:
            load_player(spec)  # fail now, with the loader's message, not mid-run
            pid = fixed_id(spec, league.players)
            checkpoint = spec
            base, _ = split_search(spec)
            if not is_bot(base):  # a checkpoint from outside: the league keeps its own copy
                copy_policy(base, self.folder / "players" / pid)
                freeze_files(self.folder / "players" / pid)
                checkpoint = f"players/{pid}{spec[len(base):]}"  # with its search suffix
            league.add(Player(pid, "fixed", checkpoint=checkpoint))
        init = None
        if cfg.init is not None:
            copy_policy(cfg.init, self.folder / "init")
            init = self.folder / "init"
            freeze_files(init)
        starts: dict[str | None, Path | None] = {}
        for learner, role in learner_ids(cfg.counts()):
            for side in self.sides.names if self.sides else (None,):
                player = league.add(Player(learner if side is None else f"{side}_{learner}",
                                           role, side=side))
                start = starts.get(side, init)
                self._add_learner(player, start)
                if start is None:  # one starting model per side (not fresh random opponents)
                    start = self.trainers[player.id].save_policy(league.init_dir(side))
                    freeze_files(start)
                starts[side] = start
        for main in league.learners("main_agent"):
            league.add(Player(f"{main.id}.init", "snapshot", main.id,
                              str(league.init_dir(main.side).relative_to(self.folder))
                              + self._search_suffix(main),
                              main.rating, side=main.side))
        self._save()

    def _exploiter_configs(self, resume: bool) -> tuple[str, Any, SelfPlayConfig] | None:
        """The exploiters' settings where they differ from the main agents' (an alphazero
        main agent with PPO exploiters), kept in league.json like the main agents'."""
        stored = self.league.extra.get("exploiters") if resume else None
        if stored is not None:
            try:
                _, cfg_cls = algo_entry(stored["algo"])
                found = (stored["algo"], from_dict(cfg_cls, stored["config"],
                                                   "league.json: exploiters"),
                         from_dict(SelfPlayConfig, stored["selfplay"], "league.json: exploiters"))
            except (KeyError, TypeError) as exc:
                raise LeagueError(f"{self.folder / 'league.json'}: exploiters: {exc}") from None
        else:
            found = exploiter_configs(self.cfg, self.algo)
            if found is not None:
                self.league.extra["exploiters"] = {
                    "algo": found[0], "config": dataclasses.asdict(found[1]),
                    "selfplay": dataclasses.asdict(found[2])}
        if found is not None:
            if found[1].net != self.algo_cfg.net:  # exploiters reset to the main's start
                raise LeagueError(f"exploiters reset to the main agents' starting model, so "
                                  f"they need the same net: {found[1].net} vs {self.algo_cfg.net}")
            self.selfplay = found[2]  # the games against members are the exploiters'
        return found

    def _role_config(self, player: Player) -> tuple[str, Any]:
        """(algorithm, config) of a learner."""
        if self.exploiters is not None and player.role != "main_agent":
            return self.exploiters[0], self.exploiters[1]
        return self.algo, self.algo_cfg

    def _search_suffix(self, player: Player) -> str:
        """'@mcts:N' for a learner that plays with tree search (its copies think as it does)."""
        algo, algo_cfg = self._role_config(player)
        if not getattr(algo_entry(algo)[0], "plays_every_seat", False):
            return ""
        search = algo_cfg.search
        return f"@{'gumbel' if search.gumbel else 'mcts'}:{search.num_simulations}"

    def _add_learner(self, player: Player, weights: Path | None) -> None:
        algo, algo_cfg = self._role_config(player)
        run = RunConfig(algo=algo, env_id=self.cfg.env_id, seed=self.cfg.seed + len(self.trainers),
                        device=self.cfg.device, torch_threads=self.cfg.torch_threads,
                        eval_every=0, checkpoint_every=0, run_dir=str(self.folder / "learners"),
                        run_name=player.id, console=False)
        self.runs[player.id] = run
        resume = weights if weights is not None and (weights / "train_state.json").exists() \
            else None
        trainer = Trainer(run, algo_cfg, self._env_factory(player.id), resume_from=resume)
        self.trainers[player.id] = trainer
        if weights is not None and resume is None:
            load_weights(trainer.agent.net, weights)
        self.live[player.id] = trainer.policy()  # seated as an opponent, it acts in eval mode
        if self._search_suffix(player):  # seated with its search, as it plays its own games
            self.live[player.id] = SearchPlayer(self.live[player.id], self.cfg.env_id,
                                                algo_cfg.search, self.cfg.seed, player.id)

    def _env_factory(self, learner: str) -> Callable[..., gym.vector.VectorEnv]:
        if self.sides is not None:
            return self._team_env_factory(learner)
        if self._search_suffix(self.league.players[learner]):
            game = self.cfg.env_id  # alphazero: self-play in every seat, outside the payoff
            return lambda num_envs, seed=None, **kwargs: envs.SelfPlay(
                envs.make_game(game, num_envs, seed), seed)

        def make_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> Results:
            seats = LeagueSeats(self._drawer(learner), self.opponent, num_envs,
                                self.selfplay.opponent_epsilon, seed or 0)
            self.seats[learner] = seats
            versus = envs.make(self.cfg.env_id, num_envs, seed, opponent=seats,
                               opening_moves=self.selfplay.opening_moves)
            return Results(versus, seats, lambda away, seat, outcome:
                           self.games.setdefault(learner, []).append((away, seat, outcome)))
        return make_env

    def _team_env_factory(self, learner: str) -> Callable[..., gym.vector.VectorEnv]:
        side, game = self.league.players[learner].side, self.cfg.env_id

        def make_env(num_envs: int, seed: int | None = None, **kwargs: Any) -> TeamResults:
            group = envs.team_size(game, rival_side(self.sides, side))
            rows = num_envs // envs.team_size(game, side) * group
            seats = LeagueSeats(self._drawer(learner), self.opponent, rows, 0.0, seed or 0,
                                group)
            self.seats[learner] = seats
            env = envs.make(game, num_envs, seed, side=side, opponent=seats, **kwargs)
            return TeamResults(env, seats, self.sides, side, lambda away, seat, outcome:
                               self.games.setdefault(learner, []).append((away, seat, outcome)))
        return make_env

    def _drawer(self, learner: str) -> Callable[[], list[str]]:
        """Draws a menu of `menu_size` opponents for the learner's next rollout."""
        return lambda: [self.league.get_match(learner) for _ in range(self.cfg.menu_size)]

    def opponent(self, player_id: str) -> Any:
        """A learner's current policy, or a frozen player from the store."""
        if player_id in self.live:
            return self.live[player_id]
        return self.store.get(self.league.players[player_id])

    def _snapshot(self, learner: str) -> None:
        """Freeze the learner's parameters into a new member; reset it if its role says so."""
        trainer, player = self.trainers[learner], self.league.players[learner]
        relative = f"players/{learner}.{player.num_snapshots}"
        freeze_files(trainer.save_policy(self.folder / relative))
        self.league.snapshot(learner, relative + self._search_suffix(player))
        start = self.league.reset_start(learner)
        if start is not None:
            reset_learner(trainer, start)

    # --- the loop --------------------------------------------------------------------------
    def progress(self, start: float) -> float:
        """Fraction of the budget spent (steps or minutes, whichever is further along): the
        learners' annealing schedules follow it."""
        cfg, league = self.cfg, self.league
        frac = 0.0
        if cfg.total_timesteps is not None:
            frac = league.total_steps / cfg.total_timesteps
        minutes = cfg.minutes if cfg.minutes is not None else (
            None if cfg.total_timesteps is not None else 30.0)
        if minutes is not None:
            seconds = league.extra.get("train_seconds", 0.0) + time.perf_counter() - start
            frac = max(frac, seconds / (60 * minutes))
        return min(frac, 1.0)

    def train(self) -> dict[str, Any]:
        """Train until the budget is spent; returns a summary (folder, steps, players).
        The runner is closed (and the folder unlocked) when it returns."""
        start = time.perf_counter()
        try:
            for trainer in self.trainers.values():
                trainer.begin()
            next_save = self.league.total_steps + self.cfg.interval_steps
            shares = self.shares()
            while (progress := self.progress(start)) < 1.0:
                learner = next_learner({pid: self.league.players[pid].steps
                                        for pid in self.trainers}, shares)
                trainer = self.trainers[learner]
                trainer.agent.progress = progress
                before = trainer.global_step
                while not trainer.advance():
                    pass
                if learner in self.seats:  # (a self-playing alphazero has none)
                    self.seats[learner].refresh()
                self.jobs += 1  # each rollout is a match job, journalled as on Ray
                self.league.record(f"{self.epoch}-{self.jobs}", learner,
                                   trainer.global_step - before, self.games.pop(learner, []))
                if self.league.matchmaker.snapshot_due(learner):
                    self._snapshot(learner)
                if self.tracker.console is not None:
                    self.tracker.console.log({}, self.league.total_steps)
                if self.league.total_steps >= next_save:
                    start = self._interval(start)
                    next_save += self.cfg.interval_steps
            self._interval(start)
        finally:
            self.close()
        return self.summary()

    def shares(self) -> dict[str, float]:
        """Each learner's share of the compute, by id: 1 for main agents,
        LeagueConfig.exploiter_share for exploiters."""
        return {p.id: 1.0 if p.role == "main_agent" else self.cfg.exploiter_share
                for p in self.league.learners()}

    def summary(self) -> dict[str, Any]:
        """What a finished run reports: folder, steps, players, main agents' checkpoints."""
        return {"folder": str(self.folder), "total_steps": self.league.total_steps,
                "players": len(self.league.players),
                "main_agents": [str(self.folder / p.checkpoint)
                                for p in self.league.learners("main_agent")],
                "averages": [str(self.folder / p.average)
                             for p in self.league.learners("main_agent") if p.average]}

    def _interval(self, start: float) -> float:
        """Evaluate, track and save; returns the new start of the clock."""
        self.league.extra["train_seconds"] = (self.league.extra.get("train_seconds", 0.0)
                                              + time.perf_counter() - start)
        step = self.league.total_steps
        evaluation = self.evaluate()
        metrics: dict[str, Any] = {**evaluation, "league/size": len(self.league.players),
                                   "time/train_seconds": self.league.extra["train_seconds"]}
        for learner, trainer in self.trainers.items():
            own = self._learner_metrics(learner, trainer)
            metrics.update({f"{learner}/{k}": v for k, v in own.items()})
        self.league.fit_ratings()
        for p in self.league.players.values():
            metrics[f"rating/{p.id}"], metrics[f"rating_sd/{p.id}"] = p.rating, p.rating_sd
        main = self.league.learners("main_agent")[0].id
        frozen = self.league.matchmaker.frozen(main)
        rates = self.league.payoff.win_rate(main, frozen)
        metrics["league/pfsp_entropy"] = float(_entropy(rates, self.cfg.matchmaking.main_weighting))
        self.tracker.log(metrics, step)
        pictures = write_pictures(self.league)  # beside league.json, for people without wandb
        self.tracker.log_media(lambda wandb: self._media(wandb, main, frozen, rates, pictures),
                               step)
        self._save()
        self.tracker.show(summary_table(self.league, evaluation))
        return time.perf_counter()

    def _learner_metrics(self, learner: str, trainer: Trainer) -> dict[str, float]:
        """A learner's metrics since the last interval, logged to its own metrics.jsonl."""
        own = {**trainer.metrics, **trainer.episode_metrics()}
        trainer.metrics = {}
        trainer.tracker.log(own, self.league.players[learner].steps)
        return own

    def _media(self, wandb: Any, main: str, frozen: list[str], rates: np.ndarray,
               pictures: dict[str, Path]) -> dict[str, Any]:
        columns, rows = payoff_rows(self.league)
        probs = pfsp_weights(rates, self.cfg.matchmaking.main_weighting)
        pfsp = wandb.Table(columns=["opponent", "probability"],
                           data=[[f, float(p)] for f, p in zip(frozen, probs, strict=True)])
        media = {"league/payoff": wandb.Table(columns=columns, data=rows),
                 "league/payoff_heatmap": wandb.Image(str(pictures["payoff"])),
                 "league/ratings": wandb.Image(str(pictures["ratings"])),
                 "league/pfsp": wandb.plot.bar(pfsp, "opponent", "probability",
                                               title=f"PFSP of {main}")}
        video = self._game_video(main)
        if video is not None:
            media["league/main_agent_game"] = wandb.Video(str(video), format="gif")
        return media

    def _game_video(self, main: str) -> Path | None:
        """A GIF of one game of the main agent against the strongest evaluation bot, drawn
        off-screen by the game's board renderer (videos/interval_<k>.gif); None for games
        without a board."""
        try:
            renderer_game(self.cfg.env_id)
        except ValueError:
            return None
        bot = load_player(self.eval_bots[-1], seed=self.league.interval)
        frames = game_frames(self.cfg.env_id, [self.live[main], bot], seed=self.league.interval)
        return write_video(self.folder / "videos" / f"interval_{self.league.interval:04d}.gif",
                           frames, fps=2)

    def evaluate(self) -> dict[str, float]:
        """Main agents (greedy) against the evaluation bots, and their exact NashConv (and that
        of the average of their snapshots) in OpenSpiel games."""
        game = self.cfg.env_id
        if self.sides is not None:
            return evaluate_team_mains(self.league, self.live, game, self.sides,
                                       self.cfg.eval_games, self.league.interval)
        out: dict[str, float] = {}
        for main in self.league.learners("main_agent"):
            policy = self.live[main.id]
            for bot in self.eval_bots:
                result = play_match(game, policy, load_player(bot, seed=self.league.interval),
                                    self.cfg.eval_games)
                out[f"eval/{main.id}/vs_{bot}"] = result.score
                out[f"eval/{main.id}/wins_vs_{bot}"] = sum(result.wins) / result.games
            if game.startswith("spiel:") and exact_is_feasible(game):
                out.update(self._exploitability(main))
            if self.cfg.exploit_every and self.league.interval % self.cfg.exploit_every == 0:
                out.update(self._learned_exploitability(main))
        return out

    def _learned_exploitability(self, main: Player) -> dict[str, float]:
        """What a fresh PPO best response, trained for exploit_minutes against the main
        agent's current policy, wins per game (with its 95% interval)."""
        import tempfile

        from ludus.league.exploitability import best_responder, learned_best_response

        with tempfile.TemporaryDirectory() as tmp:
            run, algo_cfg = best_responder(self.cfg.env_id, minutes=self.cfg.exploit_minutes,
                                           seed=self.cfg.seed + self.league.interval,
                                           run_dir=tmp, run_name=main.id)
            result = learned_best_response(self.cfg.env_id, self.live[main.id], run, algo_cfg,
                                           seed=self.league.interval)
        key = f"eval/{main.id}/learned_br"
        return {key: result.value, f"{key}_low": result.low, f"{key}_high": result.high}

    def _exploitability(self, main: Player) -> dict[str, float]:
        """Exact NashConv of a main agent and (unless its learner's last iterate is the
        product, as MMD's) of its average policy: its snapshots weighted by their order
        (linear averaging, as in CFR+: early, weak copies count least), which is also
        distilled into `learners/<id>/average_<interval>`, a checkpoint like any other."""
        from ludus.agents.bc import fit_policy
        from ludus.league.exploitability import average_policy, nash_conv

        game = self.cfg.env_id
        trainer = self.trainers[main.id]
        if getattr(trainer.agent, "last_iterate", False):  # MMD: the policy is the product
            return {f"eval/{main.id}/nash_conv": nash_conv(game, self.live[main.id])}
        copies = [p for p in self.league.players.values()
                  if p.role == "snapshot" and p.parent == main.id]
        # read past the cache: one pass over every copy would empty it
        obs, mask, probs, average_conv = average_policy(
            game, [load_player(self.store.path(p)) for p in copies], np.arange(1, len(copies) + 1))
        net = copy.deepcopy(trainer.agent.net)
        kl = fit_policy(net, obs, probs, mask, steps=1000, lr=3e-3)
        relative = f"learners/{main.id}/average_{self.league.interval:06d}"  # never replaced
        save_checkpoint(self.folder / relative, net, trainer.meta())
        main.average = relative
        return {f"eval/{main.id}/nash_conv": nash_conv(game, self.live[main.id]),
                f"eval/{main.id}/average_nash_conv": average_conv,
                f"eval/{main.id}/average_checkpoint_nash_conv": nash_conv(
                    game, load_player(str(self.folder / relative))),
                f"eval/{main.id}/average_fit_kl": kl}

    def _save(self) -> None:
        """Learners' parameters and optimizers, then league.json (atomically and durably);
        older learner states and average policies are removed only after league.json points
        past them."""
        tracker = getattr(self, "tracker", None)  # none yet while the league is created
        self.league.extra["wandb_run_id"] = tracker.wandb_run_id if tracker else None
        self.league.extra["config"] = dataclasses.asdict(self.cfg)
        for learner, trainer in self.trainers.items():
            relative = f"learners/{learner}/state_{self.league.interval:06d}"
            trainer.save_state(self.folder / relative)
            self.league.players[learner].checkpoint = relative
        self.league.save()
        self._prune()

    def _prune(self) -> None:
        """Remove learner states and average policies that league.json no longer names."""
        for player in self.league.learners():
            folder = self.folder / "learners" / player.id
            for old in [*folder.glob("state_*"), *folder.glob("average_*")]:
                if f"learners/{player.id}/{old.name}" not in (player.checkpoint, player.average):
                    shutil.rmtree(old, ignore_errors=True)


def reset_learner(trainer: Trainer, start: Path) -> None:
    """Reset a learner to `start` (the league's starting model or a main agent's snapshot)
    with a fresh optimizer (an exploiter after its snapshot). The step counters go on, so
    the learner's log (and a resume's cut) stays in order."""
    agent = trainer.agent
    fresh = make_agent(trainer.run.algo, trainer.cfg, trainer.env.single_observation_space,
                       trainer.env.single_action_space, trainer.run.seed, trainer.device)
    load_weights(agent.net, start)  # the same net in place: seats holding it stay valid
    state = fresh.train_state()
    state["global_step"], state["num_updates"] = agent.global_step, agent.num_updates
    agent.load_train_state(state)


def _entropy(rates: np.ndarray, weighting: str) -> float:
    p = pfsp_weights(rates, weighting)
    return float(-(p * np.log(np.maximum(p, 1e-12))).sum())
