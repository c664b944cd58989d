"""Supervised and generative models on the shared nets (perceptron to CNN classifiers,
sequence models, autoencoder, GAN, RBM, SOM) and the auxiliary tasks built from them.
The reinforcement-learning agents never import them."""
