"""Closure operators: the contract and its implementations."""

from .base import Closure, ClosureSum, NoClosure, as_closure

__all__ = ["Closure", "ClosureSum", "NoClosure", "as_closure"]
