"""Snapshot storage: frozen league members live on disk as immutable checkpoint directories
and are loaded lazily through a small LRU cache, so memory stays flat as the league grows
(holding every policy of the league in memory is a known failure of open implementations)."""

from __future__ import annotations

import os
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ludus.agents.checkpoint import resolve_checkpoint
from ludus.agents.files import atomic_dir
from ludus.league.arena import checkpoint_of, load_player
from ludus.league.coordinator import League
from ludus.league.matchmaking import Player


def freeze_files(directory: Path) -> None:
    """Make a written snapshot's files read-only: a snapshot never changes after it is taken."""
    for file in directory.iterdir():
        if file.is_file():
            os.chmod(file, 0o444)


def copy_policy(spec: str, target: Path) -> None:
    """Copy the checkpoint a spec names (a checkpoint, run folder or league member) to
    `target`: its weights and meta.json, without training state."""
    source = resolve_checkpoint(checkpoint_of(spec))
    with atomic_dir(target) as tmp:
        for name in ("model.safetensors", "meta.json"):
            shutil.copyfile(source / name, tmp / name)


class SnapshotStore:
    """Loads frozen players (snapshot checkpoints, fixed bots and checkpoints) on demand,
    keeping at most `capacity` of them in memory (least recently used goes first)."""

    def __init__(self, league: League, capacity: int = 8, seed: int = 0) -> None:
        if capacity <= 0:
            raise ValueError(f"snapshot cache capacity must be positive, got {capacity}")
        self.league, self.capacity, self.seed = league, capacity, seed
        self.cache: OrderedDict[str, Any] = OrderedDict()
        self.loads = 0  # how many times a player was read from disk (for tests and metrics)

    def path(self, player: Player) -> str:
        """Where the player is loaded from: a bot name, or a checkpoint inside the league."""
        return self.league.checkpoint_path(player)

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
