"""envs.make: the one entry point that turns an env id into a vectorised environment."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from ludus.envs.board import BoardGame
from ludus.envs.cartpole import BatchedCartPole
from ludus.envs.connect_four import ConnectFour
from ludus.envs.history import MoveHistory
from ludus.envs.parallel import SHARED, make_shared
from ludus.envs.tictactoe import TicTacToe
from ludus.envs.versus import Opponent, TurnGame, Versus
from ludus.envs.wrappers import MaskVelocity, atari


def _cartpole_novel(**kwargs: Any) -> gym.Env:
    return MaskVelocity(gym.make("CartPole-v1", **kwargs))


LUDUS_ENVS: dict[str, Callable[..., gym.Env]] = {
    "CartPoleNoVel-v1": _cartpole_novel,
}

# Batched numpy implementations, used by vectorization="native" (the default "auto" picks
# them when rendering is not requested).
NATIVE_VECTOR_ENVS: dict[str, Callable[[int], gym.vector.VectorEnv]] = {
    "CartPole-v1": lambda n: BatchedCartPole(n),
    "CartPoleNoVel-v1": lambda n: BatchedCartPole(n, mask_velocity=True),
}


# ludus's batched two-player games, by short name
BOARD_GAMES: dict[str, type[BoardGame]] = {"connect_four": ConnectFour, "tictactoe": TicTacToe}
# the same games observed as their move histories (envs/history.py)
HISTORY_GAMES = {f"{name}_moves": name for name in BOARD_GAMES}
PETTINGZOO, SPIEL = "pettingzoo:", "spiel:"


def is_game(env_id: str) -> bool:
    """True for multi-agent ids: ludus board games (and their _moves forms),
    pettingzoo:<env>, spiel:<game>."""
    return env_id in BOARD_GAMES or env_id in HISTORY_GAMES or env_id.startswith((PETTINGZOO, SPIEL))


def make_game(env_id: str, num_envs: int, seed: int | None = None, **kwargs: Any) -> TurnGame:
    """A batch of `num_envs` turn-based games behind the TurnGame interface: a ludus board
    game by short name, `pettingzoo:<env>` (`classic.connect_four_v3` or
    `classic/connect_four-v3`) or `spiel:<game>` (OpenSpiel; kwargs are game parameters)."""
    if num_envs <= 0:
        raise ValueError(f"num_envs must be positive, got {num_envs}")
    if env_id in BOARD_GAMES:
        return BOARD_GAMES[env_id](num_envs)
    if env_id in HISTORY_GAMES:
        return MoveHistory(BOARD_GAMES[HISTORY_GAMES[env_id]](num_envs))
    if env_id.startswith(PETTINGZOO):
        from ludus.envs.adapters import pettingzoo_game

        return pettingzoo_game(env_id.removeprefix(PETTINGZOO), num_envs, seed, **kwargs)
    if env_id.startswith(SPIEL):
        from ludus.envs.adapters import SpielGame

        return SpielGame(env_id.removeprefix(SPIEL), num_envs, seed, **kwargs)
    close = difflib.get_close_matches(env_id, [*BOARD_GAMES, *HISTORY_GAMES], n=2, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"unknown game {env_id!r}{hint}; have {sorted([*BOARD_GAMES, *HISTORY_GAMES])}, "
                     f"{PETTINGZOO}<env> and {SPIEL}<game>")


def _make_single(env_id: str, **kwargs: Any) -> gym.Env:
    if env_id in LUDUS_ENVS:
        return LUDUS_ENVS[env_id](**kwargs)
    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
        return atari(gym.make(env_id, frameskip=1, **kwargs))
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        entry = str(gym.spec(env_id).entry_point)
        extra = next((e for e in ("mujoco", "box2d") if e in entry), None)
        if extra is None:
            raise
        raise gym.error.DependencyNotInstalled(
            f"{env_id} needs ludus's {extra} extra: pip install 'ludus[{extra}]' "
            f"({str(exc).splitlines()[0]})") from None


def known_ids() -> list[str]:
    """Every id ludus resolves (Gymnasium's registry, ludus's envs and board games)."""
    return sorted(set(gym.registry) | set(LUDUS_ENVS) | set(BOARD_GAMES) | set(HISTORY_GAMES))


def check_id(env_id: str) -> None:
    """Raise ValueError naming the closest known ids when `env_id` is unknown."""
    if (env_id in LUDUS_ENVS or is_game(env_id) or env_id in gym.registry
            or env_id.startswith(("ALE/", SHARED))):
        return
    close = difflib.get_close_matches(env_id, known_ids(), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"unknown env id {env_id!r}{hint}")


def make(env_id: str, num_envs: int = 1, seed: int | None = None, *,
         vectorization: str = "auto", render_mode: str | None = None,
         opponent: Opponent | None = None, **kwargs: Any) -> gym.vector.VectorEnv:
    """A vector env of `num_envs` copies of `env_id` with same-step autoreset.

    Where an episode ends, the returned observation is already the next episode's first
    and info["final_obs"] holds the last one (as Stable-Baselines3 does), so agents can
    bootstrap through truncation. `seed` is applied at the first reset.
    vectorization: "sync" or "async" (Gymnasium's vector envs), "native" (ludus's batched
    numpy implementation), or "auto" (native where one exists and no rendering is asked).
    Multi-agent ids (see make_game) need `opponent`, seated by envs.Versus in every seat
    but the learner's; two-sided `shared:` games take `side=` and `opponent` for the other
    side (envs.parallel.make_shared).
    """
    check_id(env_id)
    if env_id.startswith(SHARED):
        return make_shared(env_id.removeprefix(SHARED), num_envs, seed, vectorization,
                           opponent=opponent, **kwargs)
    if is_game(env_id):
        if opponent is None:
            raise ValueError(f"{env_id!r} is a multi-agent game: it needs an opponent "
                             "(train it with --self-play, or pass opponent=)")
        opening = kwargs.pop("opening_moves", 0)
        return Versus(make_game(env_id, num_envs, seed, **kwargs), opponent, opening, seed)
    if num_envs <= 0:
        raise ValueError(f"num_envs must be positive, got {num_envs}")
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    fns = [lambda: _make_single(env_id, **kwargs) for _ in range(num_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    native = NATIVE_VECTOR_ENVS.get(env_id)
    if vectorization == "auto":
        vectorization = "native" if native and render_mode is None and not kwargs else "sync"
    if vectorization == "native":
        if native is None:
            raise ValueError(f"no native batched implementation of {env_id!r}; "
                             f"have {sorted(NATIVE_VECTOR_ENVS)}")
        env = native(num_envs)
    elif vectorization == "async":
        env = gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    elif vectorization == "sync":
        env = gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
    else:
        raise ValueError(f"unknown vectorization {vectorization!r}; "
                         "choose auto, native, sync or async")
    if seed is not None:
        env.reset(seed=seed)
    return env
