"""Everything that produces observations: envs.make, wrappers, games and datasets."""

from envs.registry import LUDUS_ENVS, check_id, known_ids, make

__all__ = ["LUDUS_ENVS", "check_id", "known_ids", "make"]
