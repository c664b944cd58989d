"""The poker table (league/ui/poker_scene.py), headless: a person plays Kuhn and Leduc poker
with the buttons, sees only the cards its seat may see, is refused illegal actions, and
undo replays the same deal."""

import numpy as np
import pygame

from ludus.league.ui.poker_scene import BACK, CARD, CARD_H, HEIGHT, WIDTH
from ludus.league.ui.scenes import make_scene
from ludus.league.ui.window import Window


def person_first(scene):
    scene.seats.sort(key=lambda seat: not seat.human)
    scene.restart()
    return scene


def press(scene, action):
    rect = dict(scene.buttons())[action]
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1))


def rival_card_pixel(window):
    """The colour at the middle of the rival's card (top of the table)."""
    frame = window.frame()
    return tuple(frame[34 + CARD_H // 2 + 20, WIDTH // 2])


def test_a_person_plays_kuhn_poker_with_the_buttons_and_sees_only_its_card():
    scene = person_first(make_scene("random", "human", "spiel:kuhn_poker", seed=1))
    window = Window(scene, delay=0, games=6)
    hidden_while_on, showdowns = [], 0
    for _ in range(2000):
        if not window.running:
            break
        if not scene.over:
            hidden_while_on.append(rival_card_pixel(window) == BACK)
            if scene.seats[scene.to_move].human:
                press(scene, 1)  # always bet or call: every game ends in a showdown or a fold
        elif scene.showdown() and window.restart_at is None:
            assert rival_card_pixel(window) == CARD  # face up at the showdown
            showdowns += 1
        window.step()
    assert all(hidden_while_on) and showdowns > 0
    assert scene.finished == 6 and sum(scene.score) == 6
    assert scene.chips[0] == -scene.chips[1] != 0  # zero-sum chips, counted per seat
    window.close()


def test_an_illegal_action_is_refused_and_undo_replays_the_same_deal():
    scene = person_first(make_scene("random", "human", "spiel:leduc_poker", seed=2))
    window = Window(scene, delay=0)
    if not scene.seats[scene.to_move].human:
        window.step()  # the rival acts first this game
    assert scene.seats[scene.to_move].human and not scene.legal()[0]  # no bet to fold to
    before = scene.betting()
    press(scene, 0)
    window.step()
    assert scene.message == "Fold is not a legal action now" and scene.betting() == before
    card, moves = scene.card(0), len(scene.moves)
    press(scene, 1)
    window.step()
    assert len(scene.moves) > moves
    scene.undo()
    assert len(scene.moves) == moves and scene.card(0) == card  # the same deal again
    assert window.frame().shape == (max(HEIGHT, 480), WIDTH + 320, 3)
    window.close()


def test_two_agents_play_poker_at_the_table():
    scene = make_scene("random", "random", "spiel:leduc_poker", seed=3)
    window = Window(scene, delay=0, games=4)
    window.run(max_frames=3000)
    assert scene.finished >= 4 and np.isclose(sum(scene.chips), 0.0)
