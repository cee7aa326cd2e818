"""Run budgets (``limits.max_cost_usd``, ``max_tokens``, ``max_llm_calls``) and cost attribution.

Every model call reserves its worst case before it starts (its input estimate plus its
``max_tokens``, else ``agnoctl.estimate.RESERVED_OUTPUT_TOKENS``, and the cost of that), so
calls running concurrently can never overshoot a limit together; when the call ends its
reservation is replaced by what it really used. All methods are synchronous and never await, so
under one event loop each is atomic: interleaved tasks can reserve and settle in any order and
the totals stay exact.

The limits are the run's, not the process's: a resumed run's budget starts from what its
earlier segments ``spent`` (read back from the journal), so retrying with ``--resume`` never
spends a limit twice. To allow more, the user raises the limit and resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from agnoctl.errors import AgnoctlError
from agnoctl.spec.models import LimitsSpec, Tags

LimitName = Literal["max_cost_usd", "max_tokens", "max_llm_calls"]
WarningCallback = Callable[[str, float, float], None]
"""Called as ``(limit name, used, limit)`` the first time usage reaches 80% of a limit."""


class LimitUsage(TypedDict):
    limit: float | None
    used: float


WARNING_SHARE = 0.8
_EPSILON = 1e-9  # float sums of prices must not fail a limit by a rounding error


def _usd(value: float) -> str:
    """Dollars with two decimals, or more when the amount is smaller than a cent."""
    whole, _, fraction = f"{value:.6f}".rstrip("0").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _amount(limit: LimitName, value: float) -> str:
    return _usd(value) if limit == "max_cost_usd" else str(int(value))


@dataclass(frozen=True, slots=True)
class Spent:
    """What the earlier segments of a resumed run used, as the limits count it."""

    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


NOTHING_SPENT = Spent()


@dataclass(frozen=True, slots=True)
class Overrun:
    """A run limit reached: what the refused call and every later one are told.

    ``used`` is what finished calls used, ``reserved`` the worst case of calls still in flight,
    ``requested`` the worst case of the refused call (0 when finished calls alone went over),
    ``earlier`` the part of ``used`` spent by earlier segments of a resumed run.
    """

    limit: LimitName
    limit_value: float
    used: float
    reserved: float = 0.0
    requested: float = 0.0
    earlier: float = 0.0

    def __str__(self) -> str:
        def amount(value: float) -> str:
            return _amount(self.limit, value)

        earlier = (
            f" ({amount(self.earlier)} by earlier segments of this resumed run)"
            if self.earlier
            else ""
        )

        head = f"{self.limit} {amount(self.limit_value)}"
        if self.limit == "max_llm_calls":
            detail = f"reached: {amount(self.used + self.reserved)} calls started{earlier}"
        elif self.requested == 0:
            detail = (
                f"exceeded: {amount(self.used)} used{earlier}, as calls used more than estimated"
            )
        else:
            verb = "spent" if self.limit == "max_cost_usd" else "used"
            next_call = "cost" if self.limit == "max_cost_usd" else "use"
            in_flight = (
                f", {amount(self.reserved)} reserved by calls in flight" if self.reserved else ""
            )
            detail = (
                f"reached: {amount(self.used)} {verb}{earlier}{in_flight}, "
                f"the next call could {next_call} up to {amount(self.requested)}"
            )
        return f"{head} {detail}; raise limits.{self.limit} to allow more"


class BudgetExceeded(AgnoctlError):
    """A run limit was reached: the call asking for more does not start."""

    def __init__(self, overrun: Overrun) -> None:
        self.overrun = overrun
        super().__init__(str(overrun))


@dataclass(eq=False)
class Reservation:
    """One call's worst case, held from ``reserve`` until ``settle`` or ``release``."""

    tokens: int
    cost: float
    open: bool = True


@dataclass
class _Meter:
    limit: float | None
    used: float = 0.0  # earlier segments' use included
    reserved: float = 0.0
    warned: bool = False
    earlier: float = 0.0  # what earlier segments of the run used

    def carry(self, earlier: float) -> None:
        """Start from what earlier segments used; their 80% warning was already given."""
        self.used = self.earlier = earlier
        self.warned = self.limit is not None and earlier >= WARNING_SHARE * self.limit - _EPSILON

    def would_exceed(self, requested: float) -> bool:
        if self.limit is None:
            return False
        return self.used + self.reserved + requested > self.limit + _EPSILON

    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit + _EPSILON

    def overrun(self, name: LimitName, requested: float = 0.0) -> Overrun:
        """This meter's limit reached, as it stands now (``requested``: the refused call's)."""
        assert self.limit is not None  # would_exceed() and over() are false without a limit
        return Overrun(name, self.limit, self.used, self.reserved, requested, self.earlier)


class Budget:
    """Counts calls, tokens and cost against ``limits``; refuses a call that could overshoot.

    Call counts are taken at ``reserve`` (a call in flight counts); tokens and cost are
    reserved at their worst case and replaced by actuals at ``settle``. A call that never
    reached a provider (a cache hit, or one cancelled before it was sent) is ``release``d: it
    costs nothing and does not count as an LLM call. Once a limit is reached every later
    ``reserve`` fails with the same message, so the rest of the run is skipped rather than
    squeezed into what is left. A budget without limits holds no reservations (``reserve``
    gives None) and only counts.

    ``spent`` is what the run's earlier segments used (``--resume``): it counts as used from
    the start, and a limit it already exceeds (the user lowered it) stops the run at once.
    """

    def __init__(
        self,
        limits: LimitsSpec,
        *,
        on_warning: WarningCallback | None = None,
        spent: Spent = NOTHING_SPENT,
    ) -> None:
        # Each meter is an attribute as well: every call reaches them, and a dict lookup costs.
        self._cost = _Meter(limits.max_cost_usd)
        self._tokens = _Meter(None if limits.max_tokens is None else float(limits.max_tokens))
        self._calls = _Meter(None if limits.max_llm_calls is None else float(limits.max_llm_calls))
        self._meters: dict[LimitName, _Meter] = {
            "max_cost_usd": self._cost,
            "max_tokens": self._tokens,
            "max_llm_calls": self._calls,
        }
        self._limited = any(meter.limit is not None for meter in self._meters.values())
        self._on_warning = on_warning
        self._open = 0
        self.exhausted: Overrun | None = None
        """The first limit reached, for the run's failure message."""
        if spent != NOTHING_SPENT:
            self._carry(spent)

    def _carry(self, spent: Spent) -> None:
        self._calls.carry(float(spent.calls))
        self._tokens.carry(float(spent.tokens))
        self._cost.carry(spent.cost_usd)
        for name, meter in self._meters.items():
            if self.exhausted is None and meter.over():
                self.exhausted = meter.overrun(name)

    def reserve(self, tokens: int, cost: float) -> Reservation | None:
        """Count one call and hold its worst case; raises BudgetExceeded if it could overshoot.

        Without limits there is nothing to hold: the call is counted and None stands for its
        reservation (``settle`` and ``release`` take it as they take a reservation)."""
        if not self._limited:  # most runs: no limit to watch, no reservation to keep
            self._calls.used += 1
            return None
        if self.exhausted is not None:
            raise BudgetExceeded(self.exhausted)
        requests: dict[LimitName, float] = {
            "max_cost_usd": cost,
            "max_tokens": float(tokens),
            "max_llm_calls": 1.0,
        }
        for name, requested in requests.items():
            if self._meters[name].would_exceed(requested):
                raise self._stop(name, requested)
        self._calls.used += 1
        self._tokens.reserved += tokens
        self._cost.reserved += cost
        self._open += 1
        self._warn_if_near("max_llm_calls")
        return Reservation(tokens, cost)

    def settle(
        self, reservation: Reservation | None, tokens: int, cost: float, *, reported: bool = True
    ) -> None:
        """Replace a reservation with what the call really used (it may exceed the estimate).

        A reply whose server reported no usage (``reported=False``: a server that sends none)
        counts, for the limits, at its reservation, its worst case, so that they hold whatever
        the server tells; what the report's cost shows stays what the server said."""
        if reservation is None:  # no limit: nothing held, nothing to warn about or to exceed
            self._tokens.used += tokens
            self._cost.used += cost
            return
        self._close(reservation)
        if not reported:
            tokens, cost = reservation.tokens, reservation.cost
        self._tokens.used += tokens
        self._cost.used += cost
        for name in ("max_tokens", "max_cost_usd"):
            self._warn_if_near(name)
            if self.exhausted is None and self._meters[name].over():
                # The call already happened; record the breach so the run fails and stops.
                self.exhausted = self._meters[name].overrun(name)

    def release(self, reservation: Reservation | None) -> None:
        """The call never reached a provider: give back its reservation and its call count."""
        if reservation is not None:
            self._close(reservation)
        self._calls.used -= 1

    def usage(self) -> dict[LimitName, LimitUsage]:
        """``{limit name: {"limit": value or None, "used": amount}}`` for the report: the
        whole run's, earlier segments included."""
        return {name: {"limit": m.limit, "used": m.used} for name, m in self._meters.items()}

    def _close(self, reservation: Reservation) -> None:
        if not reservation.open:
            raise ValueError("this reservation was already settled or released")
        reservation.open = False
        self._open -= 1
        tokens, cost = self._tokens, self._cost
        if self._open == 0:
            # Nothing in flight: drop the float residue of adding and subtracting prices.
            tokens.reserved = cost.reserved = 0.0
        else:
            tokens.reserved -= reservation.tokens
            cost.reserved -= reservation.cost

    def _stop(self, name: LimitName, requested: float) -> BudgetExceeded:
        self.exhausted = self._meters[name].overrun(name, requested)
        return BudgetExceeded(self.exhausted)

    def _warn_if_near(self, name: LimitName) -> None:
        meter = self._meters[name]
        if meter.warned or meter.limit is None or self._on_warning is None:
            return
        if meter.used >= WARNING_SHARE * meter.limit - _EPSILON:
            meter.warned = True
            self._on_warning(name, meter.used, meter.limit)


# --------------------------------------------------------------------------- cost attribution


def tag_labels(tags: Tags | None) -> tuple[str, ...]:
    """Cost labels of a step's ``tags``: a list as given, a map as ``key=value``."""
    if tags is None:
        return ()
    if isinstance(tags, dict):
        return tuple(f"{key}={value}" for key, value in tags.items())
    return tuple(tags)


@dataclass
class Totals:
    """Calls, tokens and cost of one slice of a run (a step, an agent, a model, a tag)."""

    calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def count(
        self, calls: int, cache_hits: int, tokens_in: int, tokens_out: int, cost_usd: float
    ) -> None:
        self.calls += calls
        self.cache_hits += cache_hits
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        self.cost_usd += cost_usd

    def add(self, other: Totals) -> None:
        self.count(other.calls, other.cache_hits, other.tokens_in, other.tokens_out, other.cost_usd)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


_RowKey = tuple[str, str | None, str, tuple[str, ...]]
"""A ledger row: step, agent (None for a judge's or a command's calls), model, tag labels."""


class CostLedger:
    """Where the money went: totals per step, agent, model and tag label.

    A call with several tag labels counts in full under each, so per-tag sums may exceed the
    run's total. Items of a ``for_each`` add up under their step's path: a run of a million
    items keeps one row for their calls, not one per call.
    """

    def __init__(self) -> None:
        self._rows: dict[_RowKey, Totals] = {}

    def add(
        self,
        step: str,
        agent: str | None,
        model: str,
        tags: Tags | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: float = 0.0,
        calls: int = 1,
        cache_hits: int = 0,
    ) -> None:
        """Record calls made for ``step`` (``model`` as ``provider/model``)."""
        key = (step, agent, model, tag_labels(tags))
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = Totals()
        row.count(calls, cache_hits, tokens_in, tokens_out, cost)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for report.json, keys sorted so reports diff cleanly."""
        total = Totals()
        by_step: dict[str, Totals] = {}
        by_agent: dict[str, Totals] = {}
        by_model: dict[str, Totals] = {}
        by_tag: dict[str, Totals] = {}
        for (step, agent, model, labels), row in self._rows.items():
            total.add(row)
            _row(by_step, step).add(row)
            _row(by_model, model).add(row)
            if agent is not None:
                _row(by_agent, agent).add(row)
            for label in labels:
                _row(by_tag, label).add(row)

        def table(rows: dict[str, Totals]) -> dict[str, Any]:
            return {key: rows[key].as_dict() for key in sorted(rows)}

        return {
            "total": total.as_dict(),
            "by_step": table(by_step),
            "by_agent": table(by_agent),
            "by_model": table(by_model),
            "by_tag": table(by_tag),
        }


def _row(table: dict[str, Totals], key: str) -> Totals:
    row = table.get(key)
    if row is None:
        row = table[key] = Totals()
    return row
