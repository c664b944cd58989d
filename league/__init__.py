"""Self-play and league training (payoff, matchmaking, roles, snapshots, arena)."""
