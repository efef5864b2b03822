"""What scripts a fake provider, shared by the loopback server and the in-process transport."""

from __future__ import annotations

from otel_llm.testing._behavior import ANY_MODEL, Behavior, BehaviorTable
from otel_llm.testing._log import RecordedRequest, RequestLog
from otel_llm.testing._routes import check_provider_name


class ScriptedProviders:
    """Behaviours to answer with, and the log of what was asked."""

    def __init__(self) -> None:
        self._behaviors = BehaviorTable()
        self._log = RequestLog()

    def set_behavior(self, provider: str, behavior: Behavior, *, model: str = ANY_MODEL) -> None:
        """Answer every later request for ``provider`` (and ``model``) with ``behavior``.

        A model-specific behaviour wins over the ``"*"`` one; one-shot behaviours from
        :meth:`enqueue` are used first. ``set_behavior(provider, Behavior())`` restores normal
        replies.

        Args:
            provider: Provider key, as in :meth:`base_url`.
            behavior: What to do.
            model: The model it applies to; ``"*"`` (the default) means any model.

        Raises:
            ValueError: If ``provider`` is not a valid path segment.
        """
        check_provider_name(provider)
        self._behaviors.set(provider, model, behavior)

    def enqueue(self, provider: str, *behaviors: Behavior, model: str = ANY_MODEL) -> None:
        """Answer the next requests for ``provider`` (and ``model``) with ``behaviors``, in order.

        Each behaviour is used once, before any persistent one. Queued behaviours for the exact
        model are used before those queued for ``"*"``.

        Args:
            provider: Provider key, as in :meth:`base_url`.
            *behaviors: One behaviour per request.
            model: The model they apply to; ``"*"`` (the default) means any model.

        Raises:
            ValueError: If ``provider`` is not a valid path segment.
        """
        check_provider_name(provider)
        self._behaviors.enqueue(provider, model, behaviors)

    def reset(self) -> None:
        """Forget all behaviours and recorded requests."""
        self._behaviors.clear()
        self._log.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received on provider routes, oldest first.

        A request is recorded before its reply is sent, so it is visible as soon as a client has
        seen any part of the response.
        """
        return self._log.snapshot()
