"""The watch and play windows: scenes (a board game between two seats, a Gymnasium env's
episodes) and the pygame window that draws and drives them. They sit on top of the league:
nothing else in ludus.league imports them."""
