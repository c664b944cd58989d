"""Players, roles and matchmaking of an AlphaStar league (Vinyals et al., Nature 2019, and its
published pseudocode): prioritized fictitious self-play (PFSP), each role's choice of
opponent and its snapshot/reset rule.

Fixes to the published pseudocode: PFSP falls back to uniform when the *weights* sum to zero
(not the win rates, which gave NaN probabilities when every win rate was 1.0), and
`remove_monotonic_suffix` works on arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ludus.league.payoff import Payoff

ROLES = ("main_agent", "main_exploiter", "league_exploiter", "snapshot", "fixed")
LEARNER_ROLES = ROLES[:3]
Weighting = Literal["squared", "variance", "linear", "linear_capped", "uniform"]
WEIGHTINGS: dict[str, object] = {
    "squared": lambda x: (1 - x) ** 2,  # focus on the hardest opponents
    "variance": lambda x: x * (1 - x),  # focus on opponents of about equal strength
    "linear": lambda x: 1 - x,
    "linear_capped": lambda x: np.minimum(0.5, 1 - x),
    "uniform": np.ones_like,  # fictitious self-play (Heinrich et al. 2015): the plain average
}


@dataclass
class Player:
    """A league member. Learners train; snapshots and fixed players are frozen."""

    id: str
    role: str
    parent: str | None = None
    """The learner a snapshot was copied from."""
    checkpoint: str | None = None
    """Checkpoint directory relative to the league folder, or a bot name (fixed players)."""
    rating: float = 1000.0
    """Bradley-Terry rating on the Elo scale, fitted to the payoff (League.fit_ratings)."""
    rating_sd: float = 400.0
    """Its standard deviation relative to the average player with games."""
    steps: int = 0
    """Env steps trained (a snapshot: its parent's steps when it was taken)."""
    checkpoint_step: int = 0
    """A learner's steps at its last snapshot or reset."""
    num_snapshots: int = 0
    average: str | None = None
    """OpenSpiel games: a main agent's average policy (its snapshots averaged), as a
    checkpoint relative to the league folder, refreshed at each evaluation."""
    side: str | None = None
    """Team games (envs.parallel.TEAMS): the side the player plays; it meets only the other
    side's players."""

    @property
    def learner(self) -> bool:
        """True for main agents and exploiters."""
        return self.role in LEARNER_ROLES

    @property
    def frozen(self) -> bool:
        """True for snapshots and fixed players (the "historical" players of the paper)."""
        return not self.learner


@dataclass
class MatchmakingConfig:
    """AlphaStar's matchmaking and snapshot rules (defaults from the paper)."""

    pfsp_prob: float = 0.5
    """Main agents: share of games by PFSP (squared) over all frozen players."""
    verification_prob: float = 0.15
    """Main agents: share of games against exploiters or forgotten copies it cannot beat
    (self-play when there are none); the rest (0.35) is self-play."""
    selfplay_threshold: float = 0.3
    """Self-play against a main agent only while beating it more often than this, else its
    past copies by PFSP (variance)."""
    exploiter_threshold: float = 0.1
    """Main exploiters play a main agent while beating it more often than this, else PFSP
    (variance) over its past copies."""
    verification_threshold: float = 0.3
    """Main agents revisit exploiter snapshots they beat less often than this..."""
    forgetting_threshold: float = 0.7
    """...and past copies of a main agent they beat less often than this."""
    snapshot_threshold: float = 0.7
    """Exploiters snapshot when beating every relevant opponent more often than this."""
    main_snapshot_steps: int = 200_000
    """Main agents snapshot on this fixed step period and never reset."""
    exploiter_min_steps: int = 100_000
    """Exploiters snapshot no sooner than this many steps after the last snapshot..."""
    exploiter_max_steps: int = 400_000
    """...and no later than this."""
    league_exploiter_reset_prob: float = 0.25
    """League exploiters reset after a snapshot with this probability (main exploiters
    always reset)."""
    reset_to: Literal["init", "main_agent"] = "init"
    """What exploiters reset to: init, the league's starting model (AlphaStar's supervised
    one), or main_agent, the latest snapshot of a main agent (where the start is a random
    net, the strongest start the league has: the exploiter looks for the main agent's
    weaknesses at once instead of learning the game again)."""
    main_weighting: Weighting = "squared"
    """PFSP weighting of main agents' PFSP games."""
    league_exploiter_weighting: Weighting = "linear_capped"
    """PFSP weighting of league exploiters."""

    def validate(self) -> None:
        """Raise ValueError naming a setting out of range."""
        for name in ("pfsp_prob", "verification_prob", "selfplay_threshold",
                     "exploiter_threshold", "verification_threshold", "forgetting_threshold",
                     "snapshot_threshold", "league_exploiter_reset_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.pfsp_prob + self.verification_prob > 1.0:
            raise ValueError(f"pfsp_prob + verification_prob must be <= 1, got "
                             f"{self.pfsp_prob} + {self.verification_prob}")
        if self.main_snapshot_steps <= 0 or not 0 <= self.exploiter_min_steps \
                <= self.exploiter_max_steps:
            raise ValueError(f"need main_snapshot_steps > 0 and 0 <= exploiter_min_steps <= "
                             f"exploiter_max_steps, got {self.main_snapshot_steps}, "
                             f"{self.exploiter_min_steps}, {self.exploiter_max_steps}")
        if self.reset_to not in ("init", "main_agent"):
            raise ValueError(f"reset_to must be init or main_agent, got {self.reset_to!r}")
        for name in ("main_weighting", "league_exploiter_weighting"):
            if getattr(self, name) not in WEIGHTINGS:
                raise ValueError(f"{name} must be one of {list(WEIGHTINGS)}, got "
                                 f"{getattr(self, name)!r}")


def pfsp_weights(win_rates: np.ndarray, weighting: str = "squared") -> np.ndarray:
    """PFSP probabilities f(P[A beats B]) / sum_C f(P[A beats C]); uniform when every weight
    is ~0 (e.g. all win rates 1.0 under `squared`)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    win_rates = np.asarray(win_rates, dtype=np.float64)
    if not len(win_rates):
        raise ValueError("PFSP needs at least one opponent")
    weights = WEIGHTINGS[weighting](win_rates)  # type: ignore[operator]
    total = weights.sum()
    if total <= 1e-12:
        return np.full(len(win_rates), 1.0 / len(win_rates))
    return weights / total


def remove_monotonic_suffix(win_rates: np.ndarray, players: Sequence[str]
                            ) -> tuple[np.ndarray, list[str]]:
    """Drop the trailing run of copies whose win rates fall toward the newest (the expected
    order: newer copies are harder). What is left ends at a newer copy beaten more often than
    the one before it: the older ones there are beaten less, a sign of forgetting."""
    win_rates, players = np.asarray(win_rates), list(players)
    for i in range(len(win_rates) - 1, 0, -1):
        if win_rates[i - 1] < win_rates[i]:
            return win_rates[: i + 1], players[: i + 1]
    return win_rates[:0], []


class Matchmaker:
    """Chooses opponents for learners and decides when they snapshot, from the players and
    the payoff (it holds no state of its own besides the RNG it is given)."""

    def __init__(self, cfg: MatchmakingConfig, players: dict[str, Player], payoff: Payoff,
                 rng: np.random.Generator) -> None:
        self.cfg, self.players, self.payoff, self.rng = cfg, players, payoff, rng

    def _role(self, *roles: str, against: str) -> list[str]:
        """Players of `roles` that `against` may meet."""
        return [p.id for p in self.players.values() if p.role in roles and self._rivals(against, p)]

    def _rivals(self, me: str, other: Player) -> bool:
        """Whether `me` may meet `other`: anyone in a symmetric game, the other side's players
        in a team game."""
        return self.players[me].side is None or other.side != self.players[me].side

    def _copies_of(self, parents: Sequence[str]) -> list[str]:
        return [p.id for p in self.players.values() if p.role == "snapshot" and p.parent in parents]

    def _pfsp(self, me: str, candidates: list[str], weighting: str) -> str:
        p = pfsp_weights(self.payoff.win_rate(me, candidates), weighting)
        return candidates[int(self.rng.choice(len(candidates), p=p))]

    def frozen(self, against: str) -> list[str]:
        """Snapshots and fixed players that `against` may meet, oldest first."""
        return [p.id for p in self.players.values() if p.frozen and self._rivals(against, p)]

    def get_match(self, me: str) -> str:
        """The opponent of `me` for its next game (a learner id means its current params)."""
        role = self.players[me].role
        if role == "main_agent":
            return self._main_agent_match(me)
        if role == "main_exploiter":
            return self._main_exploiter_match(me)
        if role == "league_exploiter":
            return self._pfsp(me, self.frozen(me), self.cfg.league_exploiter_weighting)
        raise ValueError(f"player {me!r} has role {role!r}: only learners are matched")

    def _main_agent_match(self, me: str) -> str:
        cfg, coin = self.cfg, self.rng.random()
        if coin < cfg.pfsp_prob:
            return self._pfsp(me, self.frozen(me), cfg.main_weighting)
        opponent = str(self.rng.choice(self._role("main_agent", against=me)))
        if coin < cfg.pfsp_prob + cfg.verification_prob:
            found = self._verification(me, opponent)
            if found is not None:
                return found
        return self._selfplay(me, opponent)

    def _selfplay(self, me: str, opponent: str) -> str:
        copies = self._copies_of([opponent])
        if self.payoff.win_rate(me, [opponent])[0] > self.cfg.selfplay_threshold or not copies:
            return opponent
        return self._pfsp(me, copies, "variance")  # too strong: its past copies as curriculum

    def _verification(self, me: str, opponent: str) -> str | None:
        exploiters = self._copies_of(self._role("main_exploiter", against=me))
        rates = self.payoff.win_rate(me, exploiters)
        if len(exploiters) and rates.min() < self.cfg.verification_threshold:
            return self._pfsp(me, exploiters, "squared")
        copies = self._copies_of([opponent])
        rates, copies = remove_monotonic_suffix(self.payoff.win_rate(me, copies), copies)
        if len(copies) and rates.min() < self.cfg.forgetting_threshold:
            return self._pfsp(me, copies, "squared")
        return None

    def _main_exploiter_match(self, me: str) -> str:
        opponent = str(self.rng.choice(self._role("main_agent", against=me)))
        copies = self._copies_of([opponent])
        if self.payoff.win_rate(me, [opponent])[0] > self.cfg.exploiter_threshold or not copies:
            return opponent
        return self._pfsp(me, copies, "variance")

    def snapshot_due(self, me: str) -> bool:
        """The role's rule: main agents on a fixed period; exploiters after min steps when
        they beat every relevant opponent > snapshot_threshold, or at max steps."""
        player, cfg = self.players[me], self.cfg
        passed = player.steps - player.checkpoint_step
        if player.role == "main_agent":
            return passed >= cfg.main_snapshot_steps
        if passed < cfg.exploiter_min_steps:
            return False
        relevant = (self._role("main_agent", against=me) if player.role == "main_exploiter"
                    else self.frozen(me))
        rates = self.payoff.win_rate(me, relevant)
        return (len(rates) > 0 and rates.min() > cfg.snapshot_threshold) or \
            passed >= cfg.exploiter_max_steps

    def resets_after_snapshot(self, me: str) -> bool:
        """Main exploiters always go back to the initial parameters, league exploiters with
        probability league_exploiter_reset_prob, main agents never."""
        role = self.players[me].role
        if role == "main_exploiter":
            return True
        if role == "league_exploiter":
            return bool(self.rng.random() < self.cfg.league_exploiter_reset_prob)
        return False

    def reset_source(self, me: str) -> str | None:
        """The snapshot a resetting exploiter starts again from: with reset_to main_agent the
        latest one of a main agent on its side (drawn uniformly), else (or before any) None,
        the league's starting model."""
        if self.cfg.reset_to == "init":
            return None
        side = self.players[me].side
        mains = [p for p in self.players.values()
                 if p.role == "main_agent" and p.side == side and p.num_snapshots]
        if not mains:
            return None
        main = mains[int(self.rng.integers(len(mains)))]
        return f"{main.id}.{main.num_snapshots - 1}"
