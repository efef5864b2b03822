"""Putting back what an instrumentor wrapped, exactly."""

from __future__ import annotations

import wrapt


def restore_original(owner: type, name: str) -> None:
    """Replace the wrapper of `owner.name` (set by `wrapt.wrap_function_wrapper`) with the original.

    Read from the class dict: attribute access binds the wrapper, and under wrapt 2 the bound wrapper
    is no `ObjectProxy`, so a check on it would silently leave the method wrapped.
    """
    wrapper = vars(owner).get(name)
    if isinstance(wrapper, wrapt.FunctionWrapper):
        setattr(owner, name, wrapper.__wrapped__)
