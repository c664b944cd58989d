"""Snapshot storage: frozen league members live on disk as immutable checkpoint directories
and are loaded lazily through a small LRU cache, so memory stays flat as the league grows
(holding every policy of the league in memory is a known failure of open implementations)."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ludus.league.arena import load_player
from ludus.league.matchmaking import Player


def freeze_files(directory: Path) -> None:
    """Make a written snapshot's files read-only: a snapshot never changes after it is taken."""
    for file in directory.iterdir():
        if file.is_file():
            os.chmod(file, 0o444)


class SnapshotStore:
    """Loads frozen players (snapshot checkpoints, fixed bots and checkpoints) on demand,
    keeping at most `capacity` of them in memory (least recently used goes first)."""

    def __init__(self, folder: Path | str, capacity: int = 8, seed: int = 0) -> None:
        if capacity <= 0:
            raise ValueError(f"snapshot cache capacity must be positive, got {capacity}")
        self.folder, self.capacity, self.seed = Path(folder), capacity, seed
        self.cache: OrderedDict[str, Any] = OrderedDict()
        self.loads = 0  # how many times a player was read from disk (for tests and metrics)

    def path(self, player: Player) -> str:
        """Where the player is loaded from: a bot name, or a checkpoint path."""
        if player.checkpoint is None:
            raise ValueError(f"player {player.id!r} has no checkpoint")
        spec = player.checkpoint
        if player.role == "fixed" and not (self.folder / spec).exists():
            return spec  # a bot name or an absolute checkpoint path
        return str(self.folder / spec)

    def get(self, player: Player) -> Any:
        """The player's frozen policy or bot."""
        if player.id in self.cache:
            self.cache.move_to_end(player.id)
            return self.cache[player.id]
        loaded = load_player(self.path(player), seed=self.seed + self.loads)
        self.loads += 1
        self.cache[player.id] = loaded
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        return loaded
