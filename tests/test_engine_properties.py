"""Properties of `CallPlan`, driven like the clients drive it, on a fake clock, with scripted outcomes.

No I/O: a `Driver` plays the client. Each attempt has a scripted outcome (success, or an error of any kind
with an optional retry hint and `x-should-retry` override) and a duration; an attempt longer than its
timeout ends as a timeout when the timeout expires. Sleeps move the clock. Several plans can share one
`BreakerBoard` and interleave, leaving attempts in flight while others proceed, as concurrent calls of a
shared client do.

A `SpyBoard` logs every admission and record the plans make, and the driver checks each step as it goes
(`Driver.violations`, one list per property); each test below asserts one of them, plus its own checks
on the trace.
"""

from __future__ import annotations

import itertools
import random
import typing
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from otel_llm import AllRoutesFailedError, CircuitOpenError, ProviderError, Route
from otel_llm._breaker import BreakerBoard, BreakerTransition, CircuitBreaker, Ticket
from otel_llm._engine import Attempt, CallPlan, FallbackTaken, Finish, PlanEvent, RetryScheduled, Sleep
from otel_llm._exceptions import DEFAULT_FALLBACK_KINDS, ErrorKind
from otel_llm.policies import (
    Backoff,
    BreakerPolicy,
    CircuitState,
    DecorrelatedJitter,
    Exponential,
    FullJitter,
    Linear,
    RetryPolicy,
    StopAfterAttempts,
    StopAfterDelay,
)
from tests.conftest import FakeClock

# Derandomized: the same examples on every run, so a failure is never a matter of luck.
PROPERTIES = settings(
    max_examples=75,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Shrinking a failing interleaving of calls takes minutes; the failure message carries its trace instead.
CONCURRENT = settings(PROPERTIES, max_examples=150, phases=[Phase.explicit, Phase.generate])
EPSILON = 1e-9  # float slack for "ends by the deadline"
MAX_STEPS = 400  # far more than any plan needs: a plan still running after this never ends

# Two models of one provider, so provider-wide faults (connection, quota) matter, and two other providers.
POOL = (Route("p0", "m0"), Route("p0", "m1"), Route("p1", "m0"), Route("p2", "m2"))
KINDS: tuple[ErrorKind, ...] = tuple(k for k in typing.get_args(ErrorKind) if k != "circuit_open")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ends.

    Attributes:
        kind: The error kind; `None` for a success.
        retry_after: The provider's delay hint.
        retryable: The provider's explicit retry verdict (OpenAI `x-should-retry`).
        duration: Seconds the attempt takes; one at least as long as its timeout times out.
        late: For a success: the kind of a failure after the first chunk (a stream cut mid-way).
    """

    kind: ErrorKind | None
    retry_after: float | None = None
    retryable: bool | None = None
    duration: float = 0.0
    late: ErrorKind | None = None


SUCCESS = Outcome(None)


def error_for(route: Route, kind: ErrorKind, outcome: Outcome = SUCCESS) -> ProviderError:
    return ProviderError(
        f"scripted {kind}",
        provider=route.provider,
        model=route.model,
        kind=kind,
        retry_after=outcome.retry_after,
        retryable=outcome.retryable,
    )


# --- the spy board -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admission:
    """One `admit` call.

    Attributes:
        route: The route asked for.
        admitted: Whether it was admitted.
        opened_until: For each guarding breaker that was open before the call: when it may probe.
        probes: For an admitted call, the guarding breakers it probes (half-open afterwards), each
            with its half-open episode number.
        at: Clock time of the call.
    """

    route: Route
    admitted: bool
    opened_until: dict[str, float]
    probes: dict[str, int]
    at: float


@dataclass(frozen=True, slots=True)
class Record:
    """One `record_*` call: `op` is `success` or `error`."""

    op: str
    route: Route
    kind: ErrorKind | None
    transitions: tuple[BreakerTransition, ...]


class SpyBoard(BreakerBoard):
    """A `BreakerBoard` that logs the route-level calls a plan makes, and numbers half-open episodes."""

    def __init__(self, policy: BreakerPolicy, clock: FakeClock, rng: random.Random) -> None:
        self.log: list[Admission | Record] = []
        self.transitions: list[BreakerTransition] = []
        self.episodes: dict[str, int] = {}
        self._now = clock
        super().__init__(policy, clock, self._on_transition, rng)

    def guards(self, route: Route) -> tuple[CircuitBreaker, ...]:
        """The breakers that must all admit a call on `route` (the only place that knows the keying)."""
        return (self.get(route.provider), self.get(route.provider, route.model))

    def _on_transition(self, transition: BreakerTransition) -> None:
        self.transitions.append(transition)
        if transition.new is CircuitState.HALF_OPEN:
            self.episodes[transition.key] = self.episodes.get(transition.key, 0) + 1

    def admit(self, route: Route) -> Ticket | CircuitBreaker:
        opened_until = {b.key: b.retry_at for b in self.guards(route) if b.state is CircuitState.OPEN}
        admission = super().admit(route)
        admitted = isinstance(admission, Ticket)
        probes = {}
        if admitted:
            probes = {
                b.key: self.episodes[b.key] for b in self.guards(route) if b.state is CircuitState.HALF_OPEN
            }
        self.log.append(Admission(route, admitted, opened_until, probes, self._now()))
        return admission

    def record_success(self, ticket: Ticket) -> None:
        seen = len(self.transitions)
        super().record_success(ticket)
        self.log.append(Record("success", ticket.route, None, tuple(self.transitions[seen:])))

    def record_error(self, ticket: Ticket, kind: ErrorKind) -> None:
        seen = len(self.transitions)
        super().record_error(ticket, kind)
        self.log.append(Record("error", ticket.route, kind, tuple(self.transitions[seen:])))


# --- scenarios and the driver -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """One call: its routes, policies and the outcome of each of its attempts, in order."""

    routes: tuple[Route, ...]
    retry: RetryPolicy
    max_attempts: int
    attempt_timeout: float
    total_timeout: float | None
    fallback_on: frozenset[ErrorKind]
    outcomes: tuple[Outcome, ...]
    then: Outcome = SUCCESS  # every attempt after the scripted ones

    @property
    def streaming(self) -> bool:
        """A call whose script cuts a stream after its first chunk is a streaming call."""
        return any(outcome.late is not None for outcome in (*self.outcomes, self.then))


@dataclass
class Step:
    """What one plan did at one point: the action (or the error ending it) and the clock then."""

    action: Attempt | Sleep | Finish[str] | AllRoutesFailedError
    at: float
    skipped: list[Route] = field(default_factory=list)  # refused by a breaker during this call
    error: ProviderError | None = None  # for an attempt that failed
    ended_at: float | None = None  # for an attempt: when it ended


@dataclass
class Run:
    """One plan being driven."""

    spec: PlanSpec
    plan: CallPlan[str]
    events: list[PlanEvent]
    started: float
    steps: list[Step] = field(default_factory=list)
    next_outcome: int = 0
    in_flight: Step | None = None
    probes: dict[str, int] = field(default_factory=dict)
    done: bool = False
    ended_at: float | None = None
    name: str = "call"


class Driver:
    """Plays the client for several plans sharing one board, checking every step."""

    def __init__(self, policy: BreakerPolicy, seed: int) -> None:
        self.clock = FakeClock()
        self.policy = policy
        self.board = SpyBoard(policy, self.clock, random.Random(seed))
        self.rng = random.Random(seed)
        self.runs: list[Run] = []
        self.violations: dict[str, list[str]] = {"probes": [], "records": [], "slots": [], "ended": []}
        self.trace: list[str] = []  # what happened, for the failure messages
        self.origin = self.clock.now

    def __repr__(self) -> str:
        return f"Driver({self.policy}, trace:\n  " + "\n  ".join(self.trace) + "\n)"

    def flag(self, prop: str, message: str) -> None:
        """Record a violation of property `prop`, with the latest steps that led to it."""
        self.violations[prop].append(message + "\n  after:\n    " + "\n    ".join(self.trace[-12:]))

    def note(self, run: Run, what: str) -> None:
        self.trace.append(f"t={self.clock.now - self.origin:g} {run.name}: {what}")

    def start(self, spec: PlanSpec) -> Run:
        events: list[PlanEvent] = []
        plan: CallPlan[str] = CallPlan(
            spec.routes,
            retry=spec.retry,
            breakers=self.board,
            clock=self.clock,
            rng=self.rng,
            attempt_timeout=spec.attempt_timeout,
            total_timeout=spec.total_timeout,
            fallback_on=spec.fallback_on,
            listener=events.append,
            streaming=spec.streaming,
        )
        run = Run(spec, plan, events, self.clock.now, name=f"call {len(self.runs)}")
        self.runs.append(run)
        self.note(run, f"starts on {', '.join(map(str, spec.routes))}")
        return run

    def step(self, run: Run) -> None:
        """Advance `run` by one action: resolve its attempt in flight, or ask its plan what is next."""
        if run.done:
            return
        if run.in_flight is not None:
            self._resolve(run)
            return
        seen = len(self.board.log)
        try:
            action: Attempt | Sleep | Finish[str] | AllRoutesFailedError = run.plan.next_action()
        except AllRoutesFailedError as exc:
            action = exc
        step = Step(action, self.clock.now)
        run.steps.append(step)
        new = self.board.log[seen:]
        step.skipped = [entry.route for entry in new if isinstance(entry, Admission) and not entry.admitted]
        admitted = [entry for entry in new if isinstance(entry, Admission) and entry.admitted]
        if step.skipped:
            self.note(run, f"skips {', '.join(map(str, step.skipped))}")
        if isinstance(action, Attempt):
            probes = f" as a probe of {admitted[0].probes}" if admitted and admitted[0].probes else ""
            self.note(run, f"attempt {action.number} on {action.route}{probes}")
            if not any(entry.route == action.route for entry in admitted):
                self.flag("probes", f"{action.route} attempted although its breakers did not admit it")
            if len(admitted) != 1 or admitted[0] is not new[-1] or admitted[0].route != action.route:
                self.flag("records", f"attempt {action} came with admissions {new}")
            elif any(not isinstance(entry, Admission) for entry in new):
                self.flag("records", f"next_action recorded an outcome: {new}")
            else:
                self._check_admission(run, admitted[0])
            run.in_flight = step
        else:
            self.note(run, repr(action))
            if admitted or any(isinstance(entry, Record) for entry in new):
                self.flag("records", f"{action!r} came with {new}")
            if isinstance(action, Sleep):
                self.clock.now += action.seconds
            else:
                run.done, run.ended_at = True, self.clock.now

    def _check_admission(self, run: Run, admission: Admission) -> None:
        for key, until in admission.opened_until.items():
            if admission.at < until:
                self.flag("probes", f"{key} admitted at {admission.at} while open until {until}")
            elif key not in admission.probes:
                self.flag("probes", f"{key} was open and admitted a call that is no probe")
        run.probes = admission.probes
        for key, episode in admission.probes.items():
            concurrent = sum(1 for other in self.runs if other.in_flight and other.probes.get(key) == episode)
            if concurrent + 1 > self.policy.half_open_probes:
                self.flag(
                    "probes",
                    f"{key}: {concurrent + 1} probes in flight in half-open episode {episode}, "
                    f"at most {self.policy.half_open_probes} allowed",
                )

    def _resolve(self, run: Run) -> None:
        step = run.in_flight
        assert step is not None and isinstance(step.action, Attempt)
        attempt = step.action
        outcome = run.spec.then
        if run.next_outcome < len(run.spec.outcomes):
            outcome = run.spec.outcomes[run.next_outcome]
            run.next_outcome += 1
        if outcome.duration >= attempt.timeout:
            self.clock.now += attempt.timeout
            error: ProviderError | None = error_for(attempt.route, "timeout")
        else:
            self.clock.now += outcome.duration
            error = None if outcome.kind is None else error_for(attempt.route, outcome.kind, outcome)
        step.ended_at, step.error = self.clock.now, error
        run.in_flight = None
        self.note(
            run, f"attempt {attempt.number} on {attempt.route} ends: {error.kind if error else 'success'}"
        )
        seen = len(self.board.log)
        late: ProviderError | None = None
        if error is None:
            run.plan.record_success(f"reply {attempt.number}")
            if run.spec.streaming:  # the stream then runs to its end, or is cut mid-way
                if len(self.board.log) != seen:
                    self.flag("records", f"{attempt}: a stream's first chunk reached the breakers")
                late = None if outcome.late is None else error_for(attempt.route, outcome.late)
                run.plan.record_stream_end(late)
        else:
            run.plan.record_failure(error)
        new = self.board.log[seen:]
        ended_by = error or late
        expected_op = "success" if ended_by is None else "error"
        if len(new) != 1 or not isinstance(new[0], Record) or new[0].op != expected_op:
            self.flag("records", f"{attempt} ended ({expected_op}) with {new}")
        elif new[0].route != attempt.route or new[0].kind != (ended_by.kind if ended_by else None):
            self.flag("records", f"{attempt} recorded as {new[0]}")
        else:
            for transition in new[0].transitions:
                if transition.new is CircuitState.CLOSED and transition.key not in run.probes:
                    self.flag(
                        "probes",
                        f"{transition.key} closed by {run.name}'s attempt {attempt.number}, no probe of it",
                    )
        with pytest.raises(RuntimeError):  # one record per attempt, and a second one changes nothing
            run.plan.record_failure(error_for(attempt.route, "server_error"))
        if len(self.board.log) != seen + len(new):
            self.flag("records", f"a second record for {attempt} reached the breakers")
        run.probes = {}

    def finish(self) -> None:
        """Drive every plan to its end, then check that no breaker is left short of probe slots."""
        for _ in range(MAX_STEPS):
            active = [run for run in self.runs if not run.done]
            if not active:
                break
            for run in active:
                self.step(run)
        else:
            self.flag("ended", "some plans never ended")
            return
        admissions = sum(1 for e in self.board.log if isinstance(e, Admission) and e.admitted)
        records = sum(1 for e in self.board.log if isinstance(e, Record))
        if admissions != records:
            self.flag("records", f"{admissions} admissions but {records} records")
        for breaker in self.board.breakers():
            if breaker.state is CircuitState.CLOSED:
                continue
            self.clock.now = max(self.clock.now, breaker.retry_at)
            admitted = sum(
                breaker.try_acquire()[0] is not None for _ in range(self.policy.half_open_probes + 1)
            )
            if admitted != self.policy.half_open_probes:
                self.flag(
                    "slots",
                    f"{breaker.key} ({breaker.state.value}) admits {admitted} probes once every call "
                    f"has ended, not {self.policy.half_open_probes}",
                )


# --- strategies ----------------------------------------------------------------------------------------

hints = st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.5, 30.0, 120.0]), st.floats(0, 200))
durations = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 1.0, 3.0]), st.floats(0, 40))
outcomes = st.builds(
    Outcome,
    kind=st.one_of(st.none(), st.sampled_from(KINDS)),
    retry_after=hints,
    retryable=st.one_of(st.none(), st.booleans()),
    duration=durations,
    late=st.one_of(st.none(), st.sampled_from(KINDS)),
)
BACKOFFS: list[Backoff] = [
    Exponential(0.5, maximum=8),
    Exponential(0.0, maximum=0.0),
    FullJitter(Exponential(1.0, maximum=10)),
    Linear(1.0, step=1.0, maximum=5),
    DecorrelatedJitter(0.5, maximum=8),
]
breaker_policies = st.builds(
    BreakerPolicy,
    failure_threshold=st.sampled_from([1, 1, 2, 3]),
    failure_rate=st.sampled_from([None, 0.5]),
    min_calls=st.integers(1, 5),
    recovery_time=st.sampled_from([1.0, 2.0]),
    max_recovery_time=st.just(10.0),
    jitter=st.sampled_from([0.0, 0.2]),
    long_open_time=st.sampled_from([5.0, 30.0]),
    half_open_probes=st.integers(1, 3),
    success_threshold=st.integers(1, 2),
)


# Strategies are built once: building them inside a composite would validate them again on every draw.
stops = st.one_of(
    st.integers(1, 4).map(lambda n: (StopAfterAttempts(n), n)),
    st.tuples(st.integers(1, 4), st.sampled_from([0.5, 5.0, 60.0])).map(
        lambda nd: (StopAfterAttempts(nd[0]) | StopAfterDelay(nd[1]), nd[0])
    ),
)
retry_policies = st.tuples(
    stops,
    st.sampled_from(BACKOFFS),
    st.sampled_from([1.0, 5.0, 60.0]),
    st.one_of(st.none(), st.frozensets(st.sampled_from(KINDS))),
).map(lambda t: (RetryPolicy(stop=t[0][0], backoff=t[1], max_hint=t[2], retry_on=t[3]), t[0][1]))
fallback_kinds = st.one_of(
    st.just(DEFAULT_FALLBACK_KINDS), st.frozensets(st.sampled_from(typing.get_args(ErrorKind)))
)
chains = st.lists(st.sampled_from(POOL), min_size=1, max_size=4).map(tuple)
scripts = st.lists(outcomes, max_size=8).map(tuple)


@st.composite
def plan_specs(draw: st.DrawFn, *, deadline: bool) -> PlanSpec:
    retry, attempts = draw(retry_policies)
    return PlanSpec(
        routes=draw(chains),
        retry=retry,
        max_attempts=attempts,
        attempt_timeout=draw(st.sampled_from([0.5, 2.0, 30.0])),
        total_timeout=draw(st.sampled_from([0.3, 1.0, 4.0, 20.0])) if deadline else None,
        fallback_on=draw(fallback_kinds),
        outcomes=draw(scripts),
        then=draw(outcomes),
    )


SPECS = {True: plan_specs(deadline=True), False: plan_specs(deadline=False)}
PRE_OPENED = st.one_of(st.just(frozenset[Route]()), st.frozensets(st.sampled_from(POOL), max_size=2))
PRE_OPENING: tuple[ErrorKind, ...] = ("quota_exhausted", "connection", "timeout")
PRE_OPENING_KINDS = st.sampled_from(PRE_OPENING)
SEEDS = st.integers(0, 2**16)


@dataclass(frozen=True, slots=True)
class Single:
    driver: Driver
    run: Run


@st.composite
def single_runs(draw: st.DrawFn, *, deadline: bool | None = None) -> Single:
    """One plan, driven to its end; some breakers may be open when it starts."""
    driver = Driver(draw(breaker_policies), draw(SEEDS))
    for route in draw(PRE_OPENED):
        ticket = driver.board.admit(route)
        if isinstance(ticket, Ticket):  # a previous call failed badly on this route
            driver.board.record_error(ticket, draw(PRE_OPENING_KINDS))
    driver.board.log.clear()
    run = driver.start(draw(SPECS[draw(st.booleans()) if deadline is None else deadline]))
    driver.finish()
    return Single(driver, run)


def attempts_of(run: Run) -> list[Step]:
    return [step for step in run.steps if isinstance(step.action, Attempt)]


failures = st.sampled_from(KINDS).map(Outcome)
successes = st.one_of(st.none(), st.sampled_from(KINDS)).map(lambda late: Outcome(None, late=late))
TRAFFIC_OUTCOMES = st.lists(st.one_of(failures, successes), min_size=1, max_size=4)
POOLS = {
    size: st.lists(st.sampled_from(POOL[:size]), min_size=1, max_size=3).map(tuple) for size in (1, 2, 4)
}


@st.composite
def traffic(draw: st.DrawFn, pool_size: int) -> PlanSpec:
    """A plain call for the concurrent properties: fewer knobs, so that more examples fit in the time."""
    attempts = draw(st.integers(1, 2))
    script = draw(TRAFFIC_OUTCOMES)
    return PlanSpec(
        routes=draw(POOLS[pool_size]),
        retry=RetryPolicy(stop=StopAfterAttempts(attempts), backoff=Exponential(0.5, maximum=1.0)),
        max_attempts=attempts,
        attempt_timeout=30.0,
        total_timeout=None,
        fallback_on=DEFAULT_FALLBACK_KINDS,
        outcomes=tuple(script[:-1]),
        then=script[-1],  # a route that keeps failing, or keeps working
    )


# Which call acts next, and how much time passes first (so open breakers reach their recovery time).
schedules = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from([0.0, 0.0, 0.5, 3.0])), min_size=10, max_size=30
)


TRAFFICS = {size: st.lists(traffic(size), min_size=2, max_size=6) for size in POOLS}


@dataclass(frozen=True, slots=True)
class Traffic:
    """Calls sharing one board: `together` of them start at once, the others when first scheduled.

    Each scheduled turn (call index, seconds passing first) makes one call do one thing: send an
    attempt, or see it end. So attempts stay in flight while other calls fail, wait for breakers to
    recover, and probe.
    """

    policy: BreakerPolicy
    seed: int
    calls: tuple[PlanSpec, ...]
    together: int
    turns: tuple[tuple[int, float], ...]

    def run(self) -> Driver:
        driver = Driver(self.policy, self.seed)
        runs: dict[int, Run] = {}
        for index in range(self.together):
            runs[index] = driver.start(self.calls[index])
            driver.step(runs[index])
        for turn, wait in self.turns:
            driver.clock.now += wait
            index = turn % len(self.calls)
            if index not in runs:
                runs[index] = driver.start(self.calls[index])
            driver.step(runs[index])
        driver.finish()
        return driver


@st.composite
def traffics(draw: st.DrawFn) -> Traffic:
    calls = draw(TRAFFICS[draw(st.sampled_from(list(POOLS)))])  # small pools make calls collide
    together = draw(st.integers(1, len(calls)))
    return Traffic(draw(breaker_policies), draw(SEEDS), tuple(calls), together, tuple(draw(schedules)))


def one_shot(kind: ErrorKind | None) -> PlanSpec:
    return PlanSpec(
        (POOL[0],),
        RetryPolicy(stop=StopAfterAttempts(1)),
        1,
        30.0,
        None,
        DEFAULT_FALLBACK_KINDS,
        (),
        Outcome(kind),
    )


# The interleaving behind the failures found so far, replayed on every run (see the last test).
STALE_CALL_DURING_HALF_OPEN = Traffic(
    BreakerPolicy(failure_threshold=1, recovery_time=1.0, jitter=0.0),
    seed=0,
    calls=(
        one_shot("bad_request"),
        one_shot("server_error"),
        one_shot("bad_request"),
        one_shot("bad_request"),
    ),
    together=2,  # call 0 is admitted while the breaker is closed, and keeps running
    turns=(
        (1, 0.0),  # call 1 fails: the breaker opens
        (2, 1.0),  # call 2 is the half-open probe
        (0, 0.0),  # call 0 ends, while the probe runs
        (3, 0.0),  # call 3: a second probe?
        (2, 0.0),
    ),
)


# --- the properties ------------------------------------------------------------------------------------


@PROPERTIES
@given(single_runs())
def test_a_attempts_are_bounded(single: Single) -> None:
    spec, steps = single.run.spec, attempts_of(single.run)
    assert single.driver.violations["ended"] == []
    assert len(steps) <= len(spec.routes) * spec.max_attempts
    positions = [step.action.position for step in steps if isinstance(step.action, Attempt)]
    assert all(positions.count(p) <= spec.max_attempts for p in set(positions))
    assert [step.action.number for step in steps if isinstance(step.action, Attempt)] == list(
        range(1, len(steps) + 1)
    )


@PROPERTIES
@given(single_runs(deadline=True))
def test_b_nothing_starts_or_ends_after_the_deadline(single: Single) -> None:
    spec, run = single.run.spec, single.run
    assert spec.total_timeout is not None
    deadline = run.started + spec.total_timeout
    for step in run.steps:
        action = step.action
        if isinstance(action, Attempt):
            assert step.at < deadline, step
            assert action.timeout <= spec.attempt_timeout
            assert step.at + action.timeout <= deadline + EPSILON, step
        elif isinstance(action, Sleep):
            assert step.at + action.seconds <= deadline + EPSILON, step
    assert run.ended_at is not None and run.ended_at <= deadline + EPSILON  # the call ended by its deadline


@CONCURRENT
@example(STALE_CALL_DURING_HALF_OPEN)
@given(traffics())
def test_c_open_breakers_admit_only_bounded_half_open_probes(traffic: Traffic) -> None:
    driver = traffic.run()
    assert driver.violations["probes"] == []
    assert driver.violations["ended"] == []


@CONCURRENT
@example(STALE_CALL_DURING_HALF_OPEN)
@given(traffics())
def test_d_each_admission_gets_exactly_one_record_and_probe_slots_never_leak(traffic: Traffic) -> None:
    driver = traffic.run()
    assert driver.violations["records"] == []
    assert driver.violations["slots"] == []


@PROPERTIES
@given(single_runs())
def test_e_kinds_without_fallback_stop_the_plan_before_later_routes(single: Single) -> None:
    run = single.run
    for index, step in enumerate(run.steps):
        if step.error is None or not isinstance(step.action, Attempt):
            continue
        later = run.steps[index + 1 :]
        if isinstance(later[0].action, Sleep):
            continue  # retried on the same route
        if step.error.kind not in run.spec.fallback_on:
            # The call ends here, without trying, or even looking at, a later route.
            assert len(later) == 1 and later[0].skipped == [], later
            assert isinstance(later[0].action, AllRoutesFailedError)
            assert f"not failed over after {step.error.kind}" in str(later[0].action)
        elif isinstance(later[0].action, AllRoutesFailedError):
            # Failed over, yet nothing was tried next: only the deadline or open breakers may end it.
            deadline = None if run.spec.total_timeout is None else run.started + run.spec.total_timeout
            out_of_time = deadline is not None and later[0].at >= deadline
            later_routes = len(run.spec.routes) - step.action.position - 1
            assert out_of_time or len(later[0].skipped) == later_routes, (step, later[0])


@PROPERTIES
@given(single_runs())
def test_f_the_failures_trail_lists_every_failed_or_skipped_attempt_in_order(single: Single) -> None:
    run = single.run
    expected: list[tuple[str, ProviderError | None]] = []  # None: skipped, a CircuitOpenError
    for step in run.steps:
        expected += [(str(route), None) for route in step.skipped]
        if step.error is not None and isinstance(step.action, Attempt):
            expected.append((str(step.action.route), step.error))
    trail = run.plan.failures
    assert [failure.route for failure in trail] == [route for route, _ in expected]
    for failure, (_, error) in zip(trail, expected, strict=True):
        if error is None:
            assert isinstance(failure.error, CircuitOpenError)
        else:
            assert failure.error is error
    last = run.steps[-1].action
    if isinstance(last, AllRoutesFailedError):
        assert last.attempts == trail


@PROPERTIES
@given(single_runs())
def test_g_events_mirror_the_actions(single: Single) -> None:
    run = single.run
    sleeps = [step.action.seconds for step in run.steps if isinstance(step.action, Sleep)]
    assert [event.delay for event in run.events if isinstance(event, RetryScheduled)] == sleeps
    fallbacks = [event for event in run.events if isinstance(event, FallbackTaken)]
    routes = run.spec.routes
    assert [(e.from_route, e.to_route) for e in fallbacks] == list(itertools.pairwise(routes))[
        : len(fallbacks)
    ]
    failed = {step.error.kind for step in run.steps if step.error is not None}
    skips = sum(len(step.skipped) for step in run.steps)
    assert all(e.reason in failed or e.reason == "circuit_open" for e in fallbacks)
    assert sum(e.reason == "circuit_open" for e in fallbacks) <= skips


# --- the counterexample, spelled out ------------------------------------------------------------------


def test_a_call_admitted_before_the_breaker_opened_does_not_free_a_probe_slot() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=1, recovery_time=1.0, jitter=0.0), clock)
    route = Route("p0", "m0")

    def plan() -> CallPlan[str]:
        return CallPlan(
            [route],
            retry=RetryPolicy(),
            breakers=board,
            clock=clock,
            rng=random.Random(0),
            attempt_timeout=30,
        )

    slow, failing, probe, third = plan(), plan(), plan(), plan()
    assert isinstance(slow.next_action(), Attempt)  # admitted while closed, still running
    assert isinstance(failing.next_action(), Attempt)
    failing.record_failure(error_for(route, "server_error"))  # opens the model's breaker
    clock.now += 1.0
    assert isinstance(probe.next_action(), Attempt)  # the one half-open probe (half_open_probes=1)
    slow.record_failure(error_for(route, "bad_request"))  # the old call ends: it held no probe slot
    with pytest.raises(AllRoutesFailedError):  # so the probe still holds the only one
        third.next_action()
