"""Team games in the league: one learner per side and role on shared:simple_tag, opponents
from the other side only, one result per episode, resume, and the settings it refuses."""

import json

import gymnasium as gym
import pytest

from ludus.agents.evaluate import UniformPolicy
from ludus.league.config import LeagueConfig
from ludus.league.coordinator import League, LeagueError
from ludus.league.matchmaking import MatchmakingConfig
from ludus.league.runner import LeagueRunner
from ludus.league.teams import play_team_match
from ludus.scripts import evaluate

TAG = """algo: ppo
env_id: shared:simple_tag
num_envs: 6
num_steps: 32
minibatch_size: 96
update_epochs: 2
net: {hidden: [32, 32]}
"""


def tag_config(tmp_path, **kw):
    config = tmp_path / "tag.yaml"
    config.write_text(TAG)
    base = dict(env_id="shared:simple_tag", config=str(config), main_exploiters=1,
                league_exploiters=0, total_timesteps=1500, interval_steps=700, eval_games=8,
                matchmaking=MatchmakingConfig(main_snapshot_steps=300, exploiter_min_steps=0,
                                              exploiter_max_steps=300),
                payoff_decay=1.0, league_dir=str(tmp_path / "leagues"), name="tag",
                console=False)
    return LeagueConfig(**{**base, **kw})


def test_a_team_league_matches_sides_records_every_episode_and_resumes(tmp_path, capsys):
    summary = LeagueRunner(tag_config(tmp_path)).train()
    summary = LeagueRunner(tag_config(tmp_path, total_timesteps=3000),
                           resume=summary["folder"]).train()
    league = League.load(summary["folder"])
    players = league.players
    assert {p.id for p in league.learners()} == {
        "predator_main_agent_0", "prey_main_agent_0", "predator_main_exploiter_0",
        "prey_main_exploiter_0"}
    snapshots = [p for p in players.values() if p.role == "snapshot"]
    assert len(snapshots) > 4 and all(p.side == players[p.parent].side for p in snapshots)
    assert players["prey_main_agent_0.init"].checkpoint == "init/prey"
    lines = [json.loads(x) for x in league.log_path.read_text().splitlines()]
    assert lines and all(players[x["home"]].side != players[x["away"]].side for x in lines)
    assert all(x["seat"] == ("predator", "prey").index(players[x["home"]].side) for x in lines)
    assert all(x["draws"] == 0 for x in lines)  # tag has a winner every episode
    # every episode counted once, in the payoff (undecayed here; both orders) and in the log
    games = sum(x["wins"] + x["losses"] for x in lines)
    assert games > 0 and league.payoff.counts[..., 3].sum() == 2 * games
    last = json.loads((league.folder / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("eval/predator_main_agent_0/vs_random", "eval/prey_main_agent_0/vs_random",
                "eval/prey_main_agent_0/vs_predator_main_agent_0"):
        assert 0.0 <= last[key] <= 1.0
    # evaluate.py plays a member on its own side; a bare checkpoint needs --side
    folder = summary["folder"]
    assert evaluate.main([folder, "--games", "8"]) == 0
    assert evaluate.main([f"{folder}/prey_main_agent_0", "--opponent", folder, "--games", "8",
                          "--no-greedy"]) == 0
    out = capsys.readouterr().out
    assert f"{folder} (predator) vs random (prey)" in out and "seat 0 (predator): W" in out
    assert "(prey) vs " in out and "seat 1 (prey): W" in out
    bare = league.checkpoint_path(players["prey_main_agent_0"])
    assert evaluate.main([bare, "--games", "8"]) == 2
    assert "name the player's side with --side (predator or prey)" in capsys.readouterr().err


def test_team_league_settings_it_refuses(tmp_path):
    with pytest.raises(LeagueError, match="team leagues take no --fixed"):
        LeagueRunner(tag_config(tmp_path, fixed=("random",)))
    with pytest.raises(LeagueError, match="eval_bots can only be random"):
        LeagueRunner(tag_config(tmp_path, name="b", eval_bots=("random", "greedy")))
    with pytest.raises(ValueError, match="shared:simple_spread has no sides"):
        LeagueRunner(tag_config(tmp_path, name="c", env_id="shared:simple_spread"))


def test_a_team_match_plays_exactly_its_games():
    five = gym.spaces.Discrete(5)
    result = play_team_match("shared:simple_tag", "prey", UniformPolicy(five, 1),
                             UniformPolicy(five, 2), 40, copies=16)
    assert result.games == 40 and sum(result.draws) == 0
    assert result.wins[0] == result.losses[0] == 0  # counted at the prey's seat, 1
    assert result.score > 0.6  # random predators seldom tag a random prey (about 15%)
