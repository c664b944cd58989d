"""Everything that produces observations: envs.make, wrappers, games and datasets."""

from ludus.envs.parallel import team_size
from ludus.envs.registry import (
    BOARD_GAMES,
    LUDUS_ENVS,
    NATIVE_VECTOR_ENVS,
    check_id,
    is_game,
    known_ids,
    make,
    make_game,
)
from ludus.envs.versus import SelfPlay, TurnGame, Versus

__all__ = ["BOARD_GAMES", "LUDUS_ENVS", "NATIVE_VECTOR_ENVS", "SelfPlay", "TurnGame", "Versus", "check_id",
           "is_game", "known_ids", "make", "make_game", "team_size"]
