"""The watch and play windows, headless (SDL_VIDEODRIVER=dummy, set in conftest)."""

import shutil

import imageio.v3 as iio
import numpy as np
import pygame
import pytest

from ludus.envs.render import DARK, RED, YELLOW
from ludus.league.coordinator import League
from ludus.league.matchmaking import MatchmakingConfig, Player
from ludus.league.payoff import Payoff
from ludus.league.recorder import clone_checkpoint, record
from ludus.league.ui.base import IllegalMove, Seat
from ludus.league.ui.board_scene import BoardMatch
from ludus.league.ui.scenes import make_scene, members, seat_of
from ludus.league.ui.window import BACKGROUND, Window


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Small cloned policies of both games (a few seconds)."""
    root = tmp_path_factory.mktemp("ckpt")
    for game, teacher in (("tictactoe", "minimax"), ("connect_four", "greedy")):
        clone_checkpoint(record(game, teacher, "random", 4, seed=0), root / game, epochs=2)
    return root


def click(scene, action):
    """Post a left click on the centre of a column (connect four) or cell (tic-tac-toe)."""
    s = scene.renderer.cell
    r, c = divmod(action, 3) if scene.renderer.game == "tictactoe" else (0, action)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(c * s + s // 2, r * s + s // 2),
                                         button=1))


def person_first(scene):
    scene.seats.sort(key=lambda seat: not seat.human)
    scene.restart()
    return scene


def test_a_person_plays_a_whole_game_with_the_mouse_against_a_bot():
    scene = person_first(make_scene("minimax", "human", "tictactoe"))
    window = Window(scene, delay=0, games=1)
    clicks = []
    for _ in range(300):
        if not window.running:
            break
        if not scene.over and scene.seats[scene.to_move].human:
            clicks.append(int(np.flatnonzero(scene.legal())[0]))  # the first empty cell
            click(scene, clicks[-1])
        window.step()
    assert not window.running and scene.over  # stopped after its one game
    assert scene.moves[0::2] == clicks  # every click became the person's move, in turn
    assert scene.score[0] == 0 and scene.score[1] + scene.score[2] == 1  # perfect play never loses
    assert scene.result in ("draw", "minimax wins")
    window.close()


def test_an_illegal_click_is_refused_with_a_message_and_changes_nothing():
    scene = person_first(make_scene("minimax", "human", "tictactoe"))
    window = Window(scene, delay=0)
    click(scene, 4)
    window.step()  # the person's move ...
    window.step()  # ... and the bot's reply
    assert len(scene.moves) == 2 and scene.seats[scene.to_move].human
    before = list(scene.moves)
    click(scene, 4)  # taken
    window.step()
    assert scene.moves == before and scene.message == "cell 4 is not a legal move"
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(window.board_width + 50, 50),
                                         button=1))  # the panel: ignored
    window.step()
    assert scene.moves == before
    with pytest.raises(IllegalMove, match="not a legal move"):
        scene.play(4)
    window.close()


def test_undo_takes_back_the_persons_move_and_the_reply():
    scene = person_first(make_scene("minimax", "human", "tictactoe"))
    scene.click(*[scene.renderer.cell * 1.5] * 2)  # the centre cell
    scene.step()
    scene.undo()
    assert scene.moves == [] and scene.seats[scene.to_move].human
    scene.restart(swap=True)  # now the bot moves first
    scene.step()
    first = list(scene.moves)
    scene.play(int(np.flatnonzero(scene.legal())[0]))
    scene.step()
    scene.undo()
    assert scene.moves == first and scene.seats[scene.to_move].human


def test_the_panel_probabilities_sum_to_one_and_are_zero_on_illegal_moves(checkpoints):
    policy = seat_of(str(checkpoints / "connect_four"))
    scene = BoardMatch("connect_four", [policy, Seat("random", "bot", None, seat_of("random").player)])
    for _ in range(6):
        scene.play(0)  # column 0 full
    analysis = scene.think()
    assert analysis.probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert analysis.legal[0] == 0 and analysis.probs[0] == 0.0
    assert analysis.value is not None and np.isfinite(analysis.value)
    window = Window(scene, headless=True)
    assert window.frame().shape == (480, 560 + 320, 3)


def test_known_position_pixels():
    scene = BoardMatch("connect_four", [seat_of("random"), seat_of("random", 1)])
    scene.play(3)
    scene.play(3)
    frame = Window(scene, headless=True).frame()
    s = scene.renderer.cell

    def at(r, c):
        return tuple(frame[r * s + s // 2, c * s + s // 2])

    assert at(5, 3) == RED and at(4, 3) == YELLOW and at(5, 2) == DARK and at(3, 3) == DARK
    assert tuple(frame[300, 560 + 300]) == BACKGROUND


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_recording_writes_one_frame_per_move(tmp_path, suffix):
    scene = make_scene("greedy", "minimax", "tictactoe", seed=2)
    window = Window(scene, delay=0, games=1, record=tmp_path / f"match{suffix}")
    window.run(max_frames=200)
    path = tmp_path / f"match{suffix}"
    frames = list(iio.imiter(path, plugin="FFMPEG")) if suffix == ".mp4" else iio.imread(path)
    assert len(frames) == 1 + len(scene.moves)  # the empty board, then each move
    assert frames[0].shape == (480, 560, 3)
    assert not list(tmp_path.glob(".*partial*"))  # written atomically


def test_a_league_lists_its_members_and_seats_any_two(tmp_path, checkpoints, capsys):
    from ludus.scripts.watch import main

    folder = tmp_path / "lg"
    league = League(folder, "tictactoe", MatchmakingConfig(), Payoff())
    shutil.copytree(checkpoints / "tictactoe", folder / "players" / "main_agent_0.1")
    shutil.copytree(checkpoints / "tictactoe", folder / "learners" / "main_agent_0")
    league.add(Player("main_agent_0", "main_agent", checkpoint="learners/main_agent_0"))
    league.add(Player("main_agent_0.1", "snapshot", "main_agent_0", "players/main_agent_0.1"))
    league.add(Player("random", "fixed", checkpoint="random"))
    for _ in range(6):
        league.report("main_agent_0", "main_agent_0.1", 0, "win")
        league.report("main_agent_0.1", "random", 0, "win")
    league.save()  # ratings fitted to these results
    rating = {p.id: f"{p.rating:.0f}" for p in League.load(folder).players.values()}
    assert [m[0] for m in members(folder)] == ["main_agent_0", "main_agent_0.1", "random"]
    assert main([str(folder), "--list"]) == 0
    assert "main_agent_0.1" in capsys.readouterr().out
    scene = make_scene(str(folder))  # the main agent against the best-rated other member
    assert [s.label() for s in scene.seats] == [
        f"main_agent_0 (main_agent, {rating['main_agent_0']})",
        f"main_agent_0.1 (snapshot, {rating['main_agent_0.1']})"]
    scene = make_scene(str(folder / "main_agent_0.1"), "random")  # any two, by id
    assert [s.role for s in scene.seats] == ["snapshot", "fixed"]
    while not scene.over:
        scene.step()


def test_bad_input_gets_one_line_and_no_window(tmp_path, checkpoints, capsys):
    from ludus.scripts.play import main as play
    from ludus.scripts.watch import main as watch

    empty = tmp_path / "empty"
    League(empty, "tictactoe", MatchmakingConfig(), Payoff()).save()
    pygame.display.quit()
    cases = [
        (watch, [str(checkpoints / "tictactoe"), "--env-id", "connect_four"],
         "was trained on tictactoe, not connect_four"),
        (watch, [str(empty)], "has no players"),
        (watch, ["random", "--env-id", "spiel:phantom_ttt"], "no board renderer for 'spiel:phantom_ttt'"),
        (watch, ["alphabeta:2", "--env-id", "tictactoe"], "alphabeta:2 cannot play tictactoe"),
        (play, [str(tmp_path / "missing")], "missing"),
        (watch, ["random", "--env-id", "tictactoe", "--record", "x.avi"], "must end in .gif or .mp4"),
    ]
    for main, argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
        assert not pygame.display.get_init(), argv  # the window never opened


def test_gymnasium_envs_are_watched_from_frames_and_played_by_keys(tmp_path):
    from ludus.agents import Trainer
    from tests.agents.helpers import factory, tiny_run

    run, cfg = tiny_run(tmp_path, "ppo")
    checkpoint = Trainer(run, cfg, factory()).save_policy(tmp_path / "cartpole")
    scene = make_scene(str(checkpoint))
    window = Window(scene, delay=0, games=1, record=tmp_path / "cartpole.gif")
    window.run(max_frames=600)
    assert scene.finished == 1 and scene.score[0] > 0
    frames = iio.imread(tmp_path / "cartpole.gif")
    assert len(frames) == 1 + int(scene.score[0])  # reward 1 per step
    player = make_scene(str(checkpoint), "human")
    assert player.seats[0].human and player.keys_to_action() == {("left",): 0, ("right",): 1}
    player.think()
    player.play(0)
    assert player.analysis[0].probs.sum() == pytest.approx(1.0, abs=1e-6)


def test_a_continuous_policy_is_watched_with_its_action_vector(tmp_path):
    from ludus.agents import Trainer
    from tests.agents.helpers import factory, tiny_run

    checkpoints = {}
    for algo in ("sac", "ppo"):
        run, cfg = tiny_run(tmp_path / algo, algo, "Pendulum-v1")
        checkpoints[algo] = str(Trainer(run, cfg, factory("Pendulum-v1")).save_policy(
            tmp_path / algo / "pendulum"))
    scene = make_scene(checkpoints["sac"])
    Window(scene, delay=0, games=1).run(max_frames=400)  # the panel's signed bar each frame
    assert scene.finished == 1 and scene.score[0] < 0  # Pendulum's costs
    a = scene.analysis[0]
    assert a.probs.shape == (1,) and a.bounds is not None and -2 <= a.probs[0] <= 2
    assert scene.labels() == ["a[0]"]
    sampled = make_scene(checkpoints["ppo"], greedy=False)  # N(mean, 1) draws, clipped
    actions = np.array([sampled.step() for _ in range(20)])
    assert actions.shape == (20, 1) and (np.abs(actions) <= 2).all() and actions.std() > 0.1
    with pytest.raises(ValueError, match="keyboard layout"):
        make_scene(checkpoints["sac"], "human").keys_to_action()


def test_the_board_marks_the_last_move_and_the_winning_line_and_names_fit():
    from ludus.envs.render import MARK, winning_line

    board = np.zeros((6, 7), dtype=np.int8)
    board[5, 1:5] = 1
    assert winning_line(board, 4) == [(5, 1), (5, 2), (5, 3), (5, 4)]
    assert winning_line(board[:, :4], 4) is None
    long = "a_player_with_a_name_far_longer_than_any_panel_is_wide_0123456789"
    scene = make_scene("random", "random", "connect_four", seed=0)
    scene.seats[0].name = long
    window = Window(scene, delay=0)
    for action in (0, 1, 0, 1, 0, 1, 0):  # seat 0 fills column 0: four in a row
        scene.play(action)
    assert scene.over and scene.last_cell() == (2, 0)
    frame = window.frame()
    s = scene.renderer.cell
    ring = frame[2 * s + s // 2, s // 2 - int(s * 0.45) + 1]  # on the last piece's ring
    assert tuple(ring) == MARK
    assert tuple(frame[4 * s + s // 2, s // 2]) == MARK  # the line through the column
    # the long name is cut with '...' inside the panel: the last pixels of its line stay blank
    assert (frame[12:40, -5:] == BACKGROUND).all()
    uncut = window.font.render(f"{long} (random)", True, (255, 255, 255))
    assert window.board_width + 46 + uncut.get_width() > window.size[0]  # it would not fit
    window.close()
