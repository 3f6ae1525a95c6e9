"""The city's load for Locust (run by benchmarks/scale.py): kiosks syncing, parents in the morning
rush, a payment webhook every few seconds, and the arrival rate stepped up until the portal bends.

Everything it needs comes from two files named in the environment: `SCALE_CITY` (the data set's
logins, kiosk tokens and pending payments: `scale_data.City` as JSON) and `SCALE_PLAN` (durations and
rates, see `scale.py`). On quitting it writes every timed request to `SCALE_SAMPLES` as JSON lines
(`[t, name, ms, failure]`, t in seconds since the start, failure its cause or null) and the phases
it ran to `SCALE_PHASES`. Kiosks and the payer stamp their records with the real clock: they stand
for real devices talking to app servers that run on real time (a tap's service date, a webhook's
signed timestamp).

- `Kiosk` (one per kiosk, `fixed_count`): every `round_s` ± 10 % a round (push the taps made since the
  last one, pull until caught up, heartbeat), timed as a whole as "sync round"; between rounds a
  long-poll pull (`wait=25`) when the server's OpenAPI document has the `wait` parameter (else it
  waits for the next round, as kiosks do today); a 422 to `wait` turns it off.
- `Parent`: arrives, logs in, opens home and the agenda, reserves or cancels a meal next week (with
  the form's CSRF token, as the page's script does), pausing a few human seconds between clicks,
  then leaves the page open (idle), so that the number of users is the number of arrivals.
- `Payer` (one): every `webhook_s` a signed Datatrans webhook (the stand-in's format and signature,
  refectory/payment_standin.py) settling a pending payment; the time from its answer until the
  credit is in a pull of the pupil's kiosk is reported as "credit to kiosk".
- `RushShape`: the kiosks start first and run `warmup_s` alone; then `parents` arrive over
  `rush_s`, faster and faster (arrivals grow with the square of the time, as toward 08:15); then
  steps of `step_s` at rising arrival rates, each after at least `drain_s` without arrivals and
  until the parents before are done (at most 3 more minutes), until the portal's p95 in a step
  passes `p95_limit_ms`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task

CITY = json.loads(Path(os.environ["SCALE_CITY"]).read_text(encoding="utf-8"))
PLAN = json.loads(Path(os.environ["SCALE_PLAN"]).read_text(encoding="utf-8"))
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ZURICH = ZoneInfo("Europe/Zurich")
STARTED = time.monotonic()
SAMPLES: list[tuple[float, str, float, str | None]] = []  # (when, name, ms, failure)
PHASES: list[tuple[str, float, float, float]] = []  # (name, parents per minute, start, end) in seconds
_kiosks = iter(CITY["kiosks"])
_logins = itertools.cycle(CITY["logins"])
_payments = iter(CITY["payments"])
_credits: dict[str, tuple[float, str]] = {}  # transaction id -> (webhook answered at, pupil id)
_long_poll = {"on": False}
_visiting = {"parents": 0}  # parents arrived and not yet done: a drain lasts until none is left
DRAIN_MAX_S = 180
SHAPE_TICK_S = 1  # how often Locust asks the shape for its user count


@events.request.add_listener
def _sample(request_type, name, response_time, exception, **_kwargs) -> None:
    failure = None if exception is None else f"{type(exception).__name__}: {exception}"[:160]
    SAMPLES.append((time.monotonic() - STARTED, name, response_time, failure))


@events.test_start.add_listener
def _detect_long_poll(environment, **_kwargs) -> None:
    """The pull's `wait` parameter, if this server's API document has it."""
    import urllib.request

    with urllib.request.urlopen(f"{environment.host}/api/v1/openapi.json", timeout=30) as answer:
        document = json.load(answer)
    parameters = document["paths"]["/api/v1/sync/pull"]["get"].get("parameters", [])
    _long_poll["on"] = any(parameter.get("name") == "wait" for parameter in parameters)


@events.quitting.add_listener
def _write(environment, **_kwargs) -> None:
    with open(os.environ["SCALE_SAMPLES"], "w", encoding="utf-8") as out:
        for sample in SAMPLES:
            out.write(json.dumps(sample) + "\n")
    with open(os.environ["SCALE_PHASES"], "w", encoding="utf-8") as out:
        json.dump({"phases": PHASES, "long_poll": _long_poll["on"], "started": STARTED}, out)


def _report(name: str, started: float, failure: Exception | None = None) -> None:
    events.request.fire(request_type="TIMED", name=name, response_time=(time.perf_counter() - started) * 1000,
                        response_length=0, exception=failure, context={})


def _entry_id(millis: int) -> str:
    value = (millis << 80 | random.getrandbits(80)) & ~(0xF << 76 | 0x3 << 62) | (0x7 << 76 | 0x2 << 62)
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Kiosk(FastHttpUser):
    fixed_count = len(CITY["kiosks"])
    wait_time = constant(0)

    def on_start(self) -> None:
        self.kiosk_id, token, self.pupils = next(_kiosks)
        self.mine = set(self.pupils)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cursor = CITY["cursor"]
        self.next_round = time.monotonic() + random.uniform(0, PLAN["round_s"])  # kiosks started at any time
        self.taps_due = 0.0
        self.pulled = 0

    @task
    def sync(self) -> None:
        while time.monotonic() < self.next_round:
            if _long_poll["on"]:
                self._pull(min(PLAN["long_poll_s"], max(1, int(self.next_round - time.monotonic()))), "sync long-poll")
                if self.pulled:  # as the kiosk does: a busy feed is pulled in batches
                    gevent.sleep(PLAN["long_poll_spacing_s"])
            else:
                gevent.sleep(max(0.0, self.next_round - time.monotonic()))
        self.next_round += PLAN["round_s"] * random.uniform(0.9, 1.1)
        started = time.perf_counter()
        try:
            self._push()
            while self._pull(0, "sync pull"):
                pass
            self._heartbeat()
        except _Failed as failure:
            _report("sync round", started, failure)
            return
        _report("sync round", started)

    def _push(self) -> None:
        self.taps_due += PLAN["taps_per_round"]
        taps = int(self.taps_due) + (random.random() < self.taps_due % 1)
        self.taps_due -= taps
        now = datetime.now(UTC)
        day = now.astimezone(ZURICH).date().isoformat()
        millis = int(now.timestamp() * 1000)
        records = [{"id": _entry_id(millis), "account_id": random.choice(self.pupils), "amount_cents": -700,
                    "kind": "meal", "occurred_at": now.isoformat(timespec="microseconds"), "origin": self.kiosk_id,
                    "operator": None, "reference": None, "service_date": day, "note": None} for _ in range(taps)]
        with self.client.post("/api/v1/sync/push", json={"records": records}, headers=self.headers,
                              name="sync push", catch_response=True) as answer:
            if answer.status_code != 200 or any(ack["status"] != "accepted" for ack in answer.json()["acks"]):
                answer.failure(f"push: {answer.status_code} {answer.text[:200]}")
                raise _Failed("push")

    def _pull(self, wait: int, name: str) -> bool:
        """One page after the cursor; whether more waits."""
        path = f"/api/v1/sync/pull?since={self.cursor}&limit=500" + (f"&wait={wait}" if wait else "")
        with self.client.get(path, headers=self.headers, name=name, catch_response=True) as answer:
            if wait and answer.status_code == 422:  # a server without long-polls
                _long_poll["on"] = False
                answer.success()
                return False
            if answer.status_code != 200:
                answer.failure(f"pull: {answer.status_code} {answer.text[:200]}")
                raise _Failed("pull")
            page = answer.json()
        arrived = time.monotonic()
        for change in page["changes"]:
            record = change.get("record") or {}
            if change["type"] == "entry" and record.get("kind") == "online_topup" and record["account_id"] in self.mine:
                sent = _credits.pop(record.get("reference") or "", None)
                if sent is not None:
                    events.request.fire(request_type="TIMED", name="credit to kiosk",
                                        response_time=(arrived - sent[0]) * 1000, response_length=0, exception=None,
                                        context={})
        self.cursor = int(page["next"])
        self.pulled = len(page["changes"])
        return bool(page["more"])

    def _heartbeat(self) -> None:
        body = {"cursor": str(self.cursor), "pending": 0, "version": "bench",
                "clock": datetime.now(UTC).isoformat(timespec="microseconds")}
        with self.client.post("/api/v1/kiosks/heartbeat", json=body, headers=self.headers, name="sync heartbeat",
                              catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"heartbeat: {answer.status_code} {answer.text[:200]}")
                raise _Failed("heartbeat")


class _Failed(Exception):
    pass


class Parent(FastHttpUser):
    weight = 1

    def on_start(self) -> None:
        self.login, self.pupil = next(_logins)
        self.done = False
        _visiting["parents"] += 1
        # The shape's tick starts a second's arrivals together: each parent first waits a uniform part
        # of that second, so they arrive spread over it (as a Poisson process would), not as a burst.
        gevent.sleep(random.uniform(0, SHAPE_TICK_S))

    def wait_time(self) -> float:
        return 3600 if self.done else random.uniform(*PLAN["pause_s"])

    @task
    def visit(self) -> None:
        page = self.client.get("/login", name="portal login page")
        self.client.post("/login", name="portal login", allow_redirects=False,
                         data={"csrf_token": _token(page.text), "login": self.login, "password": CITY["password"]})
        self._pause()
        self.client.get("/", name="portal home")
        self._pause()
        for _ in range(PLAN["reservations"]):
            day = random.choice(PLAN["days"])
            agenda = f"/children/{self.pupil}/agenda"
            page = self.client.get(f"{agenda}?week={day}", name="portal agenda")
            self._pause()
            self.client.post(agenda, name="portal reserve", headers={"X-Requested-With": "fetch"},
                             data={"csrf_token": _token(page.text), "day": day,
                                   "choice": random.choice(("normal", "none"))})
            self._pause()
        self.done = True
        _visiting["parents"] -= 1

    def _pause(self) -> None:
        gevent.sleep(random.uniform(*PLAN["pause_s"]))


def _token(page: str) -> str:
    found = TOKEN.search(page or "")
    return found.group(1) if found else ""


class Payer(FastHttpUser):
    fixed_count = 1
    wait_time = constant(0)

    @task
    def settle(self) -> None:
        gevent.sleep(PLAN["webhook_s"])
        payment = next(_payments, None)
        if payment is None:
            return
        reference, transaction_id, pupil, amount = payment
        body = json.dumps({
            "transactionId": transaction_id, "merchantId": CITY["merchant_id"], "type": "payment",
            "status": "settled", "currency": "CHF", "refno": reference, "paymentMethod": "TWI", "language": "fr",
            "detail": {"authorize": {"amount": amount}, "settle": {"amount": amount}}, "history": []}).encode()
        stamp = str(int(time.time() * 1000))
        signature = hmac.new(bytes.fromhex(CITY["hmac_key"]), stamp.encode() + body, hashlib.sha256).hexdigest()
        with self.client.post("/payments/datatrans/webhook", data=body, name="payment webhook", catch_response=True,
                              headers={"Content-Type": "application/json",
                                       "Datatrans-Signature": f"t={stamp},s0={signature}"}) as answer:
            if answer.status_code != 200:
                answer.failure(f"webhook: {answer.status_code} {answer.text[:200]}")
                return
        _credits[transaction_id] = (time.monotonic(), pupil)


class RushShape(LoadTestShape):
    """Kiosks and the payer first, then the rush's arrivals, then the capacity steps, each after a
    pause without arrivals (`drain_s`) so that a step does not inherit the queue of the one before."""

    fixed = len(CITY["kiosks"]) + 1

    def __init__(self) -> None:
        super().__init__()
        self.arrived = self.base = self.last = 0.0
        self.segment: tuple[str, float, float, float] | None = None  # (name, parents/min, start, end)
        self.sampled_from = 0.0  # the segment's start on the samples' clock
        self.segments = self._segments()

    @staticmethod
    def _segments():
        yield "warmup", 0, PLAN["warmup_s"]
        yield "rush", PLAN["parents"] * 60 / PLAN["rush_s"], PLAN["rush_s"]
        for rate in PLAN["step_rates"]:
            yield "drain", 0, PLAN["drain_s"]
            yield f"step {rate}", rate, PLAN["step_s"]

    def tick(self):
        now = self.get_run_time()
        while self.segment is None or now >= self.segment[3]:
            ending = self.segment[0] if self.segment is not None else None
            if ending == "drain" and _visiting["parents"] and now < self.segment[3] + DRAIN_MAX_S:
                break  # the last phase's parents are still at it
            if ending not in (None, "drain", "warmup"):
                PHASES.append((self.segment[0], self.segment[1], self.sampled_from, time.monotonic() - STARTED))
                if self.segment[0] != "rush" and self._portal_p95(self.sampled_from) > PLAN["p95_limit_ms"]:
                    return None
            name, per_minute, length = next(self.segments, (None, 0, 0))
            if name is None:
                return None
            start = now if self.segment is None or self.segment[0] == "drain" else self.segment[3]
            self.segment, self.base, self.last = (name, per_minute, start, start + length), self.arrived, start
            self.sampled_from = time.monotonic() - STARTED
        name, per_minute, start, end = self.segment
        if name == "rush":  # arrivals grow with the square of the time: faster and faster
            self.arrived = self.base + PLAN["parents"] * ((now - start) / (end - start)) ** 2
        else:
            self.arrived += per_minute / 60 * (now - self.last)
        self.last = now
        return self.fixed + int(self.arrived), 100

    @staticmethod
    def _portal_p95(since: float) -> float:
        times = sorted(ms for t, name, ms, _failed in SAMPLES if t >= since and name.startswith("portal "))
        return times[int(len(times) * 0.95)] if times else 0.0
