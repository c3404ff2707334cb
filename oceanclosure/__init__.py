"""oceanclosure: closure-augmented finite-volume simulation in JAX."""
