"""A-posteriori training of closures: observations, rollouts, the trainer."""
