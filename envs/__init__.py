"""Everything that produces observations: envs.make, wrappers, games and datasets."""

from envs.registry import BOARD_GAMES, LUDUS_ENVS, board_game, check_id, known_ids, make
from envs.versus import Versus

__all__ = ["BOARD_GAMES", "LUDUS_ENVS", "Versus", "board_game", "check_id", "known_ids", "make"]
