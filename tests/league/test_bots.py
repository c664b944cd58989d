import numpy as np
import pytest

from ludus.envs.connect_four import ConnectFour
from ludus.envs.tictactoe import TicTacToe
from ludus.league.bots import AlphaBetaBot, GreedyBot, PerfectTicTacToeBot, RandomBot, c4_windows, ttt_value


def c4_position(moves):
    """Observation and mask after playing `moves` (columns) from the empty board."""
    game = ConnectFour(1)
    for col in moves:
        game.step(np.array([col]))
    return {"observation": game.observation(), "action_mask": game.action_mask()}


def support(probs):
    return set(np.flatnonzero(probs[0]).tolist())


def test_random_bot_is_uniform_over_legal_moves():
    obs = c4_position([0] * 6)  # column 0 is full
    probs, state = RandomBot().action_probs(obs)
    assert state is None and probs[0, 0] == 0 and np.allclose(probs[0, 1:], 1 / 6)


def test_greedy_wins_then_blocks():
    win = c4_position([0, 6, 1, 6, 2, 5])  # mover (first player) has 0,1,2 on the bottom row
    assert support(GreedyBot().action_probs(win)[0]) == {3}
    block = c4_position([0, 6, 1, 6, 5, 6])  # the opponent threatens the top of column 6
    assert support(GreedyBot().action_probs(block)[0]) == {6}


def test_alpha_beta_finds_the_forced_win_and_the_block():
    # first player owns the bottom of columns 2 and 3, the second player sits on top of them:
    # playing 1 or 4 makes an open three that cannot be blocked on both sides
    forced = c4_position([2, 2, 3, 3])
    assert support(AlphaBetaBot(depth=4).action_probs(forced)[0]) == {1, 4}
    assert len(support(AlphaBetaBot(depth=2).action_probs(forced)[0])) > 2  # too shallow
    block = c4_position([0, 6, 1, 6, 5, 6])
    assert support(AlphaBetaBot(depth=2).action_probs(block)[0]) == {6}
    heuristic = AlphaBetaBot(depth=2, heuristic=True)
    assert heuristic.name == "alphabeta2h" and support(heuristic.action_probs(block)[0]) == {6}


def test_windows_and_tictactoe_values():
    assert len(c4_windows()) == 69
    assert ttt_value(0, 0) == 0  # tic-tac-toe is a draw
    assert ttt_value(0b000000011, 0b000011000) == 1  # mover completes the top row


@pytest.mark.parametrize("seat", [0, 1])
def test_perfect_tictactoe_never_loses_to_random(seat):
    bots = {seat: PerfectTicTacToeBot(seed=1), 1 - seat: RandomBot(seed=2)}
    results = []
    for _ in range(100):
        game = TicTacToe(1)
        while True:
            mover = int(game.to_move[0])
            obs = {"observation": game.observation(), "action_mask": game.action_mask()}
            won, _, done = game.step(bots[mover].act(obs)[0])
            if done[0]:
                results.append(0 if not won[0] else (1 if mover == seat else -1))
                break
    assert min(results) == 0 and results.count(1) > 50  # never loses, usually wins


def test_bots_need_a_mask():
    with pytest.raises(ValueError, match="action mask"):
        RandomBot().act(np.zeros((1, 6, 7, 2), np.int8))
    with pytest.raises(ValueError, match="depth"):
        AlphaBetaBot(depth=0)


def test_tictactoe_lines_against_every_minimax_reply():
    from ludus.league.bots import tictactoe_lines

    perfect = tictactoe_lines(PerfectTicTacToeBot(seed=0), all_replies=True)
    assert perfect["loss"] == 0 and perfect["win"] > 0
    assert tictactoe_lines(RandomBot(seed=0))["loss"] > 0
