"""Seeded, labelled input streams for the three jobs, with a known number of poison messages.

The exactly-once tests, the reference oracle and the benchmarks need the same input,
reproducible byte for byte from a seed, plus ground truth: which transactions are
fraud, which machines fail, which messages are duplicates or out of order, and which
must end in the dead-letter topic. So generation is pure (no I/O, no wall clock) and
yields `Record(key, value, label)`; the file and Kafka writers only move records.

Stream model
- `count` is the number of valid event messages (duplicates included: they parse);
  `poison` adds that many malformed messages, so the stream has count + poison
  messages. `duration_s` instead generates every event whose event time falls in
  [start, start + duration).
- `rate` spaces events in event time (events per second over all keys). Sending is
  throttled to the same rate in wall-clock time only with `--realtime`.
- `sequence` is 1, 2, 3... per key in stream order. A duplicate repeats its original's
  bytes, sequence included. An out-of-order inventory event takes the key's next
  sequence but an event time earlier than the key's previous event (a till that sent
  late), at most `out_of_order_ms` behind the newest event time already in the stream.
- Poison never uses a sequence number and is placed at seeded positions; the valid
  events are the same whatever the poison count.
- `late` (inventory, maintenance) adds that many events at seeded positions, each for the
  key of the event before it, timed within one second either side of the job's allowed
  lateness behind that key's newest event time (`allowed_lateness_ms`, default the job
  model's): alternately just late (dead-lettered) and just in time (applied). Its key's
  newest event is within the out-of-orderness bound of the newest event, so the outcome
  does not depend on the watermark (docs/faults.md). `resend` adds that many exact copies
  of the event before, at seeded positions (duplicates). Both count as valid events.

File format (`--to-file PATH`), no header, records back to back:
    key length (4 bytes, big-endian) | key | value length (4 bytes, big-endian) | value
`read_records(path)` reads it back. Ground truth goes to PATH + ".truth.json".

Ground truth (JSON): format, domain, event_type, seed, params, complete; counts
(messages, valid_events, unique_events, duplicates, out_of_order, poison,
poison_by_kind, keys); event_time (first/last/min/max ms); poison_indexes (stream
positions, ascending) and poison ([{index, kind, reason}], reason as the decoder gives
it); labels, per domain:
- fraud: labels {transaction_id: pattern} for fraudulent transactions only (absent =
  legit), by_pattern, incidents [{pattern, card_id, start_ms, end_ms, transaction_ids,
  context_transaction_ids (legit ones that set the scene), complete, ...}]. The
  cardholder keeps using a card after an incident; those transactions are legit.
- inventory: duplicates [event_id in resend order], out_of_order [{event_id, key,
  behind_key_ms, lateness_ms}], out_of_order_bound_ms, never_released [reservation_id],
  reservations {created, released, abandoned_by_design}.
- maintenance: period_ms, degrading {machine_id: {mode, onset_ms, failure_ms,
  failure_thresholds, threshold_crossed_ms, last_event_ms, failed_in_stream}}, faulty
  {machine_id: [{sensor, kind (stuck|impossible), from_ms, value, readings}]}, silent
  {machine_id: {silent_from_ms, last_event_ms}}.
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import json
import logging
import math
import os
import random
import struct
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from google.protobuf.message import Message

from streamsuite.argtypes import non_negative_int, positive_float, positive_int
from streamsuite.stack import quiet_kafka_logger
from streamsuite_proto.v1 import fraud_pb2, inventory_pb2, maintenance_pb2
from udfs import codec
from udfs.codec import DecodeError
from udfs.events import EVENT_TYPES, MAX_AMOUNT_MINOR, MIN_EVENT_TIME_MS, SENSORS
from udfs.inventory import InventoryModel
from udfs.maintenance import MaintenanceModel

DEFAULT_START_TIME_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, fixed so output is reproducible
DEFAULT_SEED = 1
DEFAULT_COUNT = 10_000
DEFAULT_SCHEMA_ID = 1
DEFAULT_OUT_OF_ORDER_MS = 5_000
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
BROKER_TIMEOUT_S = 10.0
DELIVERY_TIMEOUT_MS = 60_000
TRUTH_FORMAT = "streamsuite.generator.truth/1"
FRAMINGS = ("raw", "confluent")


@dataclass(frozen=True)
class Domain:
    name: str
    event_type: str
    default_keys: int
    default_rate: float
    keys_are: str


DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain("fraud", "CardTransaction", 10_000, 100.0, "cards"),
        Domain("inventory", "InventoryMovement", 1_000, 100.0, "store-SKU pairs"),
        Domain("maintenance", "SensorReading", 100, 20.0, "machines"),
    )
}

POISON_KINDS = (
    "garbage",
    "truncated_protobuf",
    "empty",
    "truncated_header",
    "wrong_message_index",
    "foreign_message",
    "missing_field",
    "out_of_range",
)


class Label(NamedTuple):
    """What a record is: kind "event", "duplicate" or "poison"; tags name patterns and faults."""

    kind: str
    event_id: str
    tags: tuple[str, ...] = ()


class Record(NamedTuple):
    key: bytes
    value: bytes
    label: Label
    # Written as the Kafka record timestamp, so Flink's source derives per-partition
    # watermarks from it; poison carries the time of the event before it.
    event_time_ms: int = 0


class _Emitted(NamedTuple):
    """A valid event as a domain generator hands it over, with the message for poison templates."""

    key: bytes
    value: bytes
    label: Label
    message: Message
    event_time_ms: int


@dataclass(frozen=True)
class Params:
    domain: str
    count: int | None
    duration_s: float | None
    rate: float
    keys: int
    seed: int
    poison: int
    framing: str
    schema_id: int
    start_time_ms: int
    out_of_order_ms: int
    late: int = 0
    resend: int = 0
    allowed_lateness_ms: int = 0

    @property
    def planned_events(self) -> int:
        if self.count is not None:
            return self.count
        return max(1, int(self.duration_s * self.rate))

    @property
    def planned_span_ms(self) -> float:
        """Event-time span the planned events cover; anomalies are placed inside it."""
        return self.planned_events / self.rate * 1000.0

    @property
    def end_ms(self) -> int | None:
        if self.duration_s is None:
            return None
        return self.start_time_ms + int(self.duration_s * 1000)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "duration_s": self.duration_s,
            "rate": self.rate,
            "keys": self.keys,
            "poison": self.poison,
            "framing": self.framing,
            "schema_id": self.schema_id,
            "start_time_ms": self.start_time_ms,
            "out_of_order_ms": self.out_of_order_ms,
            **({"late": self.late, "resend": self.resend, "allowed_lateness_ms": self.allowed_lateness_ms}
               if self.late or self.resend else {}),
        }


def state_key(message: Message) -> bytes:
    """The Kafka key: the job's state key, so one key's events share a partition and stay in order."""
    return EVENT_TYPES[message.DESCRIPTOR.name].key(message).encode()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _DomainGenerator:
    """One domain's event source: an endless (or duration-bounded) time-ordered stream."""

    def __init__(self, params: Params):
        self.params = params
        self.rng = random.Random(f"{params.seed}:{params.domain}")
        self.schema_id = params.schema_id if params.framing == "confluent" else None

    def encode(self, message: Message) -> bytes:
        return codec.encode(message, self.schema_id)

    def new_id(self) -> str:
        return _uuid(self.rng)

    def past_end(self, time_ms: float) -> bool:
        end = self.params.end_ms
        return end is not None and time_ms >= end

    def events(self) -> Iterator[_Emitted]:
        raise NotImplementedError

    def truth(self) -> dict[str, Any]:
        raise NotImplementedError

    def keys_used(self) -> int:
        raise NotImplementedError

    def late_copy(self, template: _Emitted, event_time_ms: int) -> _Emitted:
        """A new event for `template`'s key at `event_time_ms`, taking the key's next sequence."""
        raise ValueError(f"the {self.params.domain} stream has no late events")


# ---------------------------------------------------------------- fraud

# country -> (currency, minor units per US cent, cities (name, latitude, longitude))
COUNTRIES: dict[str, tuple[str, float, tuple[tuple[str, float, float], ...]]] = {
    "US": ("USD", 1.0, (("New York", 40.7128, -74.0060), ("Chicago", 41.8781, -87.6298),
                        ("San Francisco", 37.7749, -122.4194))),
    "CA": ("CAD", 1.36, (("Toronto", 43.6532, -79.3832),)),
    "GB": ("GBP", 0.79, (("London", 51.5072, -0.1276), ("Manchester", 53.4808, -2.2426))),
    "DE": ("EUR", 0.92, (("Berlin", 52.5200, 13.4050), ("Munich", 48.1351, 11.5820))),
    "FR": ("EUR", 0.92, (("Paris", 48.8566, 2.3522), ("Lyon", 45.7640, 4.8357))),
    "ES": ("EUR", 0.92, (("Madrid", 40.4168, -3.7038),)),
    "NL": ("EUR", 0.92, (("Amsterdam", 52.3676, 4.9041),)),
    "BR": ("BRL", 5.0, (("Sao Paulo", -23.5505, -46.6333),)),
    "AU": ("AUD", 1.52, (("Sydney", -33.8688, 151.2093),)),
    "JP": ("JPY", 1.5, (("Tokyo", 35.6762, 139.6503),)),
    "SG": ("SGD", 1.35, (("Singapore", 1.3521, 103.8198),)),
    "TH": ("THB", 36.0, (("Bangkok", 13.7563, 100.5018),)),
    "IN": ("INR", 83.0, (("Mumbai", 19.0760, 72.8777),)),
    "NG": ("NGN", 15.0, (("Lagos", 6.5244, 3.3792),)),
    "MX": ("MXN", 17.0, (("Mexico City", 19.4326, -99.1332),)),
    "MT": ("EUR", 0.92, (("Valletta", 35.8989, 14.5146),)),
    "CY": ("EUR", 0.92, (("Limassol", 34.7071, 33.0226),)),
    "CW": ("ANG", 1.79, (("Willemstad", 12.1091, -68.9316),)),
}
HOME_COUNTRY_WEIGHTS = {"US": 34, "GB": 14, "DE": 12, "FR": 10, "CA": 7, "ES": 6, "NL": 5,
                        "BR": 5, "AU": 4, "JP": 3}
# ISO 18245 categories: grocery, restaurants, fast food, fuel, pharmacy, department
# store, clothing, electronics, transit, books, cinema.
STORE_CATEGORIES = ("5411", "5812", "5814", "5541", "5912", "5311", "5651", "5732", "4111",
                    "5942", "7832")
# Misc retail, digital goods, computer network services, cable/streaming, books.
ONLINE_CATEGORIES = ("5999", "5815", "4816", "4899", "5942")
CARD_TESTING_CATEGORIES = ("5999", "5815", "4816")
# Gambling, quasi-cash/crypto, direct marketing (inbound teleservices).
HIGH_RISK_CATEGORIES = ("7995", "6051", "5967")
HIGH_RISK_COUNTRIES = ("MT", "CY", "CW", "GB", "US", "NG")
ATM_CATEGORY = "6011"
FRAUD_PATTERNS = ("card_testing", "impossible_travel", "amount_spike", "new_high_risk_merchant")

STORES_PER_CITY = 30
ATMS_PER_CITY = 4
ONLINE_PER_COUNTRY = 15
HIGH_RISK_MERCHANTS = 24
ATM_SHARE = 0.03
USUAL_MERCHANT_SHARE = 0.85
# Incidents per pattern, as a share of the planned transactions.
INCIDENT_SHARE = 0.002
# A card needs this many transactions before "usual" and "never seen" mean anything.
HISTORY_FOR_USUAL = 5
# Legit purchases start above the card-testing range in every currency, so labels are clean.
LEGIT_MIN_MINOR = 350
LEGIT_MAX_OVER_MEDIAN = 8.0
SPIKE_OVER_MEDIAN = (20.0, 50.0)
CARD_TESTING_TXS = (8, 20)
CARD_TESTING_MAX_MINOR = 199
CARD_TESTING_WINDOW_MS = 55_000
IMPOSSIBLE_TRAVEL_MIN_KM = 3_000.0
IMPOSSIBLE_TRAVEL_MAX_GAP_MS = 30 * 60_000
ATM_ROUNDING_MINOR = 1_000
INCIDENT_MAX_MS = max(CARD_TESTING_WINDOW_MS, IMPOSSIBLE_TRAVEL_MAX_GAP_MS) + 60_000


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; what an impossible-travel check compares with elapsed time."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class _Merchant(NamedTuple):
    merchant_id: str
    category: str
    country: str
    latitude: float
    longitude: float


@dataclass
class _Card:
    card_id: str
    key: bytes
    country: str
    city: int
    currency: str
    minor_per_cent: float
    # Where the cardholder is: a legit online purchase is located here, not at the merchant.
    latitude: float
    longitude: float
    median_cents: float
    sigma: float
    rate_per_ms: float
    online_share: float
    usual_stores: list[int]
    usual_online: list[int]
    sequence: int = 0
    seen: set[int] = field(default_factory=set)


class _PlannedTx(NamedTuple):
    card: int
    merchant: int
    amount_minor: int
    channel: int
    label: str | None
    incident: dict[str, Any] | None


class _FraudGenerator(_DomainGenerator):
    """Cards with a home city, a few usual merchants and lognormal amounts, plus fraud incidents."""

    def __init__(self, params: Params):
        super().__init__(params)
        self.merchants: list[_Merchant] = []
        self.stores_by_city: dict[tuple[str, int], list[int]] = {}
        self.atms_by_city: dict[tuple[str, int], list[int]] = {}
        self.online_by_country: dict[str, list[int]] = {}
        self.high_risk: list[int] = []
        self._build_merchants()
        self.card_testing_targets = [
            i for merchants in self.online_by_country.values() for i in merchants
            if self.merchants[i].category in CARD_TESTING_CATEGORIES
        ]
        self.far_cities = self._far_cities()
        self.cards = self._build_cards()
        self.experienced: list[int] = []
        self.busy_until: dict[int, float] = {}
        self.labels: dict[str, str] = {}
        self.incidents: list[dict[str, Any]] = []
        self.active_cards = 0

    def _build_merchants(self) -> None:
        rng = self.rng

        def add(prefix: str, category: str, country: str, lat: float, lon: float) -> int:
            index = len(self.merchants)
            self.merchants.append(_Merchant(
                f"{prefix}{index:06d}", category, country,
                round(lat + rng.uniform(-0.05, 0.05), 5), round(lon + rng.uniform(-0.05, 0.05), 5)))
            return index

        for country, (_, _, cities) in COUNTRIES.items():
            for city, (_, lat, lon) in enumerate(cities):
                self.stores_by_city[(country, city)] = [
                    add("m", rng.choice(STORE_CATEGORIES), country, lat, lon) for _ in range(STORES_PER_CITY)]
                self.atms_by_city[(country, city)] = [
                    add("atm", ATM_CATEGORY, country, lat, lon) for _ in range(ATMS_PER_CITY)]
            _, lat, lon = cities[0]
            self.online_by_country[country] = [
                add("m", rng.choice(ONLINE_CATEGORIES), country, lat, lon) for _ in range(ONLINE_PER_COUNTRY)]
        for n in range(HIGH_RISK_MERCHANTS):
            country = rng.choice(HIGH_RISK_COUNTRIES)
            _, lat, lon = COUNTRIES[country][2][0]
            self.high_risk.append(add("m", HIGH_RISK_CATEGORIES[n % len(HIGH_RISK_CATEGORIES)], country, lat, lon))

    def _far_cities(self) -> dict[tuple[str, int], list[tuple[str, int]]]:
        cities = [(c, i, lat, lon) for c, (_, _, cs) in COUNTRIES.items() for i, (_, lat, lon) in enumerate(cs)]
        return {
            (c, i): [(c2, i2) for c2, i2, lat2, lon2 in cities
                     if c2 != c and haversine_km(lat, lon, lat2, lon2) >= IMPOSSIBLE_TRAVEL_MIN_KM + 200]
            for c, i, lat, lon in cities
        }

    def _build_cards(self) -> list[_Card]:
        rng, p = self.rng, self.params
        countries, weights = list(HOME_COUNTRY_WEIGHTS), list(HOME_COUNTRY_WEIGHTS.values())
        activity = [rng.lognormvariate(0.0, 0.8) for _ in range(p.keys)]
        total_activity = sum(activity)
        cards = []
        for index in range(p.keys):
            country = rng.choices(countries, weights)[0]
            currency, minor_per_cent, cities = COUNTRIES[country]
            city = rng.randrange(len(cities))
            _, city_lat, city_lon = cities[city]
            stores = self.stores_by_city[(country, city)]
            online = self.online_by_country[country]
            card_id = f"card-{index:06d}"
            cards.append(_Card(
                card_id=card_id, key=state_key(fraud_pb2.CardTransaction(card_id=card_id)),
                country=country, city=city, currency=currency,
                minor_per_cent=minor_per_cent,
                latitude=round(city_lat + rng.uniform(-0.05, 0.05), 5),
                longitude=round(city_lon + rng.uniform(-0.05, 0.05), 5),
                median_cents=rng.lognormvariate(math.log(3500), 0.6),
                sigma=rng.uniform(0.35, 0.8),
                rate_per_ms=p.rate / 1000.0 * activity[index] / total_activity,
                online_share=rng.uniform(0.15, 0.55),
                usual_stores=rng.sample(stores, rng.randint(2, 6)),
                usual_online=rng.sample(online, rng.randint(1, 3)),
            ))
        return cards

    def _plan_incidents(self) -> list[tuple[float, str]]:
        p, rng = self.params, self.rng
        per_pattern = max(1, round(p.planned_events * INCIDENT_SHARE))
        span = p.planned_span_ms
        return [(p.start_time_ms + rng.uniform(0.02, 0.8) * span, pattern)
                for pattern in FRAUD_PATTERNS for _ in range(per_pattern)]

    def events(self) -> Iterator[_Emitted]:
        regular, incident, planned = 0, 1, 2
        heap: list[tuple[float, int, int, Any]] = []
        order = itertools.count()
        start = self.params.start_time_ms
        for index, card in enumerate(self.cards):
            heap.append((start + self.rng.expovariate(card.rate_per_ms), next(order), regular, index))
        for start, pattern in self._plan_incidents():
            heap.append((start, next(order), incident, pattern))
        heapq.heapify(heap)
        while heap:
            t, _, action, payload = heapq.heappop(heap)
            if self.past_end(t):
                return
            if action == regular:
                card = self.cards[payload]
                heapq.heappush(heap, (t + self.rng.expovariate(card.rate_per_ms), next(order), regular, payload))
                yield self._emit(t, self._legit(payload))
            elif action == incident:
                for when, tx in self._start_incident(payload, t):
                    heapq.heappush(heap, (when, next(order), planned, tx))
            else:
                yield self._emit(t, payload)

    @staticmethod
    def _minor(card: _Card, cents: float) -> int:
        """US cents to the card's currency: amounts follow one distribution whatever the currency."""
        return min(MAX_AMOUNT_MINOR, max(1, round(cents * card.minor_per_cent)))

    def _usual_amount(self, card: _Card) -> int:
        cents = min(card.median_cents * self.rng.lognormvariate(0.0, card.sigma),
                    card.median_cents * LEGIT_MAX_OVER_MEDIAN)
        return max(LEGIT_MIN_MINOR, self._minor(card, cents))

    def _atm_amount(self, card: _Card) -> int:
        minor = self._minor(card, self.rng.choice((2000, 4000, 6000, 10000, 20000)))
        return max(ATM_ROUNDING_MINOR, round(minor / ATM_ROUNDING_MINOR) * ATM_ROUNDING_MINOR)

    def _legit(self, index: int) -> _PlannedTx:
        rng, card = self.rng, self.cards[index]
        draw = rng.random()
        if draw < ATM_SHARE:
            merchant = rng.choice(self.atms_by_city[(card.country, card.city)])
            return _PlannedTx(index, merchant, self._atm_amount(card), fraud_pb2.ATM, None, None)
        if draw < ATM_SHARE + card.online_share:
            pool = card.usual_online if rng.random() < USUAL_MERCHANT_SHARE else self.online_by_country[card.country]
            return _PlannedTx(index, rng.choice(pool), self._usual_amount(card), fraud_pb2.ECOMMERCE, None, None)
        home_stores = self.stores_by_city[(card.country, card.city)]
        pool = card.usual_stores if rng.random() < USUAL_MERCHANT_SHARE else home_stores
        return _PlannedTx(index, rng.choice(pool), self._usual_amount(card), fraud_pb2.CARD_PRESENT, None, None)

    def _pick_card(self, needs_history: bool, t: float) -> int:
        """A card not already in an incident, so each incident's labels stay unambiguous."""
        pool = self.experienced if needs_history and self.experienced else range(len(self.cards))
        for _ in range(20):
            index = self.rng.choice(pool)
            if self.busy_until.get(index, -math.inf) < t:
                return index
        return index

    def _start_incident(self, pattern: str, t: float) -> list[tuple[float, _PlannedTx]]:
        """The transactions of one fraud incident, timed from `t`; only the fraudulent ones are labelled."""
        rng, span = self.rng, self.params.planned_span_ms
        index = self._pick_card(pattern in ("amount_spike", "new_high_risk_merchant"), t)
        self.busy_until[index] = t + INCIDENT_MAX_MS
        card = self.cards[index]
        incident: dict[str, Any] = {"pattern": pattern, "card_id": card.card_id, "start_ms": int(t), "end_ms": int(t),
                                    "planned_transactions": 1, "transaction_ids": [], "context_transaction_ids": []}
        self.incidents.append(incident)
        if pattern == "card_testing":
            targets = rng.sample(self.card_testing_targets, rng.randint(1, 2))
            window = min(CARD_TESTING_WINDOW_MS, max(2_000.0, span / 5))
            count = rng.randint(*CARD_TESTING_TXS)
            incident["planned_transactions"] = count
            times = [t] + sorted(t + rng.uniform(0, window) for _ in range(count - 1))
            return [(when, _PlannedTx(index, rng.choice(targets), rng.randint(1, CARD_TESTING_MAX_MINOR),
                                      fraud_pb2.ECOMMERCE, pattern, incident)) for when in times]
        if pattern == "impossible_travel":
            home = rng.choice(card.usual_stores)
            country, city = rng.choice(self.far_cities[(card.country, card.city)])
            atm = rng.random() < 0.25
            abroad = rng.choice((self.atms_by_city if atm else self.stores_by_city)[(country, city)])
            gap = rng.uniform(0.2, 1.0) * min(IMPOSSIBLE_TRAVEL_MAX_GAP_MS, max(5_000.0, span / 5))
            here, there = self.merchants[home], self.merchants[abroad]
            distance = haversine_km(here.latitude, here.longitude, there.latitude, there.longitude)
            incident["distance_km"] = round(distance, 1)
            incident["gap_ms"] = int(t + gap) - int(t)
            amount = self._atm_amount(card) if atm else self._minor(card, card.median_cents * rng.uniform(1.5, 5.0))
            return [
                (t, _PlannedTx(index, home, self._usual_amount(card), fraud_pb2.CARD_PRESENT, None, incident)),
                (t + gap, _PlannedTx(index, abroad, amount, fraud_pb2.ATM if atm else fraud_pb2.CARD_PRESENT,
                                     pattern, incident)),
            ]
        if pattern == "amount_spike":
            online = rng.random() < card.online_share
            merchant = rng.choice(card.usual_online if online else card.usual_stores)
            amount = self._minor(card, card.median_cents * rng.uniform(*SPIKE_OVER_MEDIAN))
            incident["usual_amount_minor"] = round(card.median_cents * card.minor_per_cent)
            channel = fraud_pb2.ECOMMERCE if online else fraud_pb2.CARD_PRESENT
            return [(t, _PlannedTx(index, merchant, amount, channel, pattern, incident))]
        unseen = [m for m in self.high_risk if m not in card.seen] or self.high_risk
        merchant = rng.choice(unseen)
        incident["merchant_category"] = self.merchants[merchant].category
        amount = max(LEGIT_MIN_MINOR, self._minor(card, card.median_cents * rng.uniform(0.5, 4.0)))
        return [(t, _PlannedTx(index, merchant, amount, fraud_pb2.ECOMMERCE, pattern, incident))]

    def _emit(self, t: float, planned: _PlannedTx) -> _Emitted:
        card = self.cards[planned.card]
        merchant = self.merchants[planned.merchant]
        card.sequence += 1
        if card.sequence == 1:
            self.active_cards += 1
        if card.sequence == HISTORY_FOR_USUAL:
            self.experienced.append(planned.card)
        card.seen.add(planned.merchant)
        latitude, longitude = merchant.latitude, merchant.longitude
        if planned.channel == fraud_pb2.ECOMMERCE and planned.label is None:
            latitude, longitude = card.latitude, card.longitude
        tx = fraud_pb2.CardTransaction(
            transaction_id=self.new_id(), card_id=card.card_id, event_time_ms=int(t), sequence=card.sequence,
            amount_minor=planned.amount_minor, currency=card.currency,
            merchant_id=merchant.merchant_id, merchant_category=merchant.category, country=merchant.country,
            latitude=latitude, longitude=longitude, channel=planned.channel,
        )
        tags: tuple[str, ...] = ()
        if planned.incident is not None:
            planned.incident["end_ms"] = int(t)
        if planned.label:
            self.labels[tx.transaction_id] = planned.label
            planned.incident["transaction_ids"].append(tx.transaction_id)
            tags = (planned.label,)
        elif planned.incident is not None:
            planned.incident["context_transaction_ids"].append(tx.transaction_id)
        return _Emitted(card.key, self.encode(tx), Label("event", tx.transaction_id, tags), tx, int(t))

    def keys_used(self) -> int:
        return self.active_cards

    def truth(self) -> dict[str, Any]:
        by_pattern = {pattern: 0 for pattern in FRAUD_PATTERNS}
        for label in self.labels.values():
            by_pattern[label] += 1
        incidents = [dict(i, complete=len(i["transaction_ids"]) == i["planned_transactions"])
                     for i in self.incidents if i["transaction_ids"]]
        return {
            "fraud_transactions": len(self.labels),
            "by_pattern": by_pattern,
            "incidents_by_pattern": {p: sum(1 for i in incidents if i["pattern"] == p) for p in FRAUD_PATTERNS},
            "labels": self.labels,
            "incidents": sorted(incidents, key=lambda i: (i["start_ms"], i["card_id"], i["pattern"])),
            "high_risk_categories": list(HIGH_RISK_CATEGORIES),
        }


# ---------------------------------------------------------------- inventory

SKUS_PER_STORE = 50
OUT_OF_ORDER_SHARE = 0.02
DUPLICATE_SHARE = 0.01
DUPLICATE_DELAY_MESSAGES = (1, 20)
NEVER_RELEASED_SHARE = 0.15
INVENTORY_KIND_NAMES = {v: k.lower() for k, v in inventory_pb2.MovementKind.items()}


@dataclass
class _Shelf:
    store_id: str
    sku: str
    key: bytes
    reorder_point: int
    sequence: int = 0
    on_hand: int = 0
    last_ms: int = 0
    open_reservations: list[tuple[str, int]] = field(default_factory=list)


class _InventoryGenerator(_DomainGenerator):
    """Stock movements per store and SKU, with re-sent duplicates and late (out-of-order) events."""

    def __init__(self, params: Params):
        super().__init__(params)
        rng = self.rng
        per_store = min(params.keys, SKUS_PER_STORE)
        stores = math.ceil(params.keys / per_store)
        pairs = [(s, k) for s in range(stores) for k in range(per_store)][: params.keys]
        self.shelves = []
        for store, sku in pairs:
            store_id, sku_id = f"store-{store + 1:04d}", f"sku-{sku + 1:06d}"
            key = state_key(inventory_pb2.InventoryMovement(store_id=store_id, sku=sku_id))
            self.shelves.append(_Shelf(store_id, sku_id, key, rng.randint(3, 10)))
        self.cum_weights = list(itertools.accumulate(rng.lognormvariate(0.0, 1.0) for _ in self.shelves))
        self.duplicates: list[str] = []
        self.out_of_order: list[dict[str, Any]] = []
        self.reservations: dict[str, bool] = {}
        self.abandoned = 0
        self.active_shelves = 0

    def events(self) -> Iterator[_Emitted]:
        rng, p = self.rng, self.params
        clock = float(p.start_time_ms)
        newest = p.start_time_ms
        recent: deque[tuple[int, int]] = deque()
        resend: list[tuple[int, int, _Emitted]] = []
        order = itertools.count()
        sent = 0
        while True:
            if resend and resend[0][0] <= sent:
                original = heapq.heappop(resend)[2]
                self.duplicates.append(original.label.event_id)
                sent += 1
                yield original._replace(label=Label("duplicate", original.label.event_id, original.label.tags))
                continue
            clock += rng.expovariate(p.rate) * 1000.0
            if self.past_end(clock):
                return
            item = None
            if p.out_of_order_ms > 0 and rng.random() < OUT_OF_ORDER_SHARE:
                item = self._late_movement(recent, newest)
            if item is None:
                index = rng.choices(range(len(self.shelves)), cum_weights=self.cum_weights)[0]
                item = self._movement(index, int(clock))
                newest = max(newest, item.event_time_ms)
                recent.append((item.event_time_ms, index))
                while recent and recent[0][0] < newest - p.out_of_order_ms:
                    recent.popleft()
            sent += 1
            if rng.random() < DUPLICATE_SHARE:
                heapq.heappush(resend, (sent + rng.randint(*DUPLICATE_DELAY_MESSAGES), next(order), item))
            yield item

    def _late_movement(self, recent: deque[tuple[int, int]], newest: int) -> _Emitted | None:
        """A sale or return sent late: earlier than its key's previous event, within the bound."""
        if not recent:
            return None
        index = self.rng.choice(recent)[1]
        shelf = self.shelves[index]
        earliest = max(newest - self.params.out_of_order_ms, self.params.start_time_ms)
        if shelf.sequence == 0 or shelf.last_ms - 1 < earliest:
            return None
        event_time = self.rng.randint(earliest, shelf.last_ms - 1)
        kind = inventory_pb2.SALE if self.rng.random() < 0.8 else inventory_pb2.RETURN
        previous_ms = shelf.last_ms
        item = self._movement(index, event_time, kind)
        self.out_of_order.append({"event_id": item.label.event_id, "key": shelf.key.decode(),
                                  "behind_key_ms": previous_ms - event_time, "lateness_ms": newest - event_time})
        return item._replace(label=item.label._replace(tags=item.label.tags + ("out_of_order",)))

    def late_copy(self, template: _Emitted, event_time_ms: int) -> _Emitted:
        """A sale or return sent late (a till that held it back)."""
        index = next(i for i, shelf in enumerate(self.shelves) if shelf.key == template.key)
        kind = inventory_pb2.SALE if self.rng.random() < 0.8 else inventory_pb2.RETURN
        return self._movement(index, event_time_ms, kind)

    def _next_kind(self, shelf: _Shelf) -> int:
        options = [(inventory_pb2.SALE, 60), (inventory_pb2.RESERVATION, 9), (inventory_pb2.RETURN, 5),
                   (inventory_pb2.ADJUSTMENT, 2),
                   (inventory_pb2.RESTOCK, 40 if shelf.on_hand < shelf.reorder_point else 2)]
        if shelf.open_reservations:
            options.append((inventory_pb2.RELEASE, 6 * len(shelf.open_reservations)))
        kinds, weights = zip(*options)
        return self.rng.choices(kinds, weights)[0]

    def _movement(self, index: int, event_time: int, kind: int | None = None) -> _Emitted:
        rng, shelf = self.rng, self.shelves[index]
        reservation_id = ""
        if shelf.sequence == 0:
            self.active_shelves += 1
            kind, quantity = inventory_pb2.ADJUSTMENT, rng.randint(10, 120)
            shelf.on_hand = quantity
        else:
            kind = kind or self._next_kind(shelf)
            if kind == inventory_pb2.SALE:
                quantity = rng.choices((1, 2, 3, 4, 6), (70, 15, 8, 4, 3))[0]
                shelf.on_hand -= quantity
            elif kind == inventory_pb2.RETURN:
                quantity = 1
                shelf.on_hand += quantity
            elif kind == inventory_pb2.RESTOCK:
                quantity = rng.choice((12, 24, 36, 48))
                shelf.on_hand += quantity
            elif kind == inventory_pb2.ADJUSTMENT:
                quantity = max(0, shelf.on_hand - rng.choice((-1, 0, 1, 1, 2, 3)))
                shelf.on_hand = quantity
            elif kind == inventory_pb2.RESERVATION:
                quantity = rng.randint(1, 3)
                reservation_id = f"res-{self.new_id()}"
                self.reservations[reservation_id] = False
                if rng.random() < NEVER_RELEASED_SHARE:
                    self.abandoned += 1
                else:
                    shelf.open_reservations.append((reservation_id, quantity))
            else:
                reservation_id, quantity = shelf.open_reservations.pop(rng.randrange(len(shelf.open_reservations)))
                self.reservations[reservation_id] = True
        shelf.sequence += 1
        shelf.last_ms = max(shelf.last_ms, event_time)
        movement = inventory_pb2.InventoryMovement(
            event_id=self.new_id(), store_id=shelf.store_id, sku=shelf.sku, event_time_ms=event_time,
            sequence=shelf.sequence, kind=kind, quantity=quantity, reservation_id=reservation_id)
        label = Label("event", movement.event_id, (INVENTORY_KIND_NAMES[kind],))
        return _Emitted(shelf.key, self.encode(movement), label, movement, event_time)

    def keys_used(self) -> int:
        return self.active_shelves

    def truth(self) -> dict[str, Any]:
        never_released = [r for r, released in self.reservations.items() if not released]
        return {
            "duplicates": self.duplicates,
            "out_of_order_bound_ms": self.params.out_of_order_ms,
            "out_of_order": self.out_of_order,
            "reservations": {"created": len(self.reservations),
                             "released": len(self.reservations) - len(never_released),
                             "abandoned_by_design": self.abandoned},
            "never_released": never_released,
        }


# ---------------------------------------------------------------- maintenance

NOISE_SD = {"temperature_c": 0.3, "vibration_mm_s": 0.08, "pressure_bar": 0.03, "rotation_rpm": 3.0}
DRIFT_SD = {"temperature_c": 0.1, "vibration_mm_s": 0.02, "pressure_bar": 0.01, "rotation_rpm": 1.0}
DECIMALS = {"temperature_c": 2, "vibration_mm_s": 3, "pressure_bar": 3, "rotation_rpm": 1}
# ISO 10816 zone D for large machines; a winding insulation class B limit.
FAILURE_THRESHOLDS = {"bearing_wear": {"vibration_mm_s": 11.2}, "overheating": {"temperature_c": 110.0}}
# The trend aims past the threshold so it is crossed near 90% of the way to failure.
DEGRADATION_OVERSHOOT = 1.25
IMPOSSIBLE_VALUES = {"temperature_c": -300.0, "vibration_mm_s": -5.0, "pressure_bar": -3.0,
                     "rotation_rpm": -1500.0}
IMPOSSIBLE_READING_SHARE = 0.5
DROPOUT_SHARE = 0.003
DEGRADING_SHARE, FAULTY_SHARE, SILENT_SHARE = 0.10, 0.10, 0.05


@dataclass
class _Machine:
    machine_id: str
    key: bytes
    phase_ms: float
    base: dict[str, float]
    drift: dict[str, float]
    sequence: int = 0
    stop_ms: float = math.inf
    last_ms: int | None = None
    last_values: dict[str, float] = field(default_factory=dict)
    degradation: dict[str, Any] | None = None
    fault: dict[str, Any] | None = None


class _MaintenanceGenerator(_DomainGenerator):
    """Machines reporting four sensors at a fixed period; some degrade to failure, some break, some go silent."""

    def __init__(self, params: Params):
        super().__init__(params)
        rng = self.rng
        self.period_ms = params.keys * 1000.0 / params.rate
        self.machines = []
        for index in range(params.keys):
            machine_id = f"machine-{index + 1:04d}"
            key = state_key(maintenance_pb2.SensorReading(machine_id=machine_id))
            base = {"temperature_c": rng.gauss(55.0, 6.0), "vibration_mm_s": rng.uniform(1.0, 2.5),
                    "pressure_bar": rng.uniform(4.0, 8.0),
                    "rotation_rpm": rng.choice((1450.0, 1480.0, 2950.0, 2980.0)) + rng.gauss(0.0, 5.0)}
            self.machines.append(_Machine(machine_id, key, rng.uniform(0, self.period_ms), base,
                                          {s: 0.0 for s in SENSORS}))
        self.degrading, self.faulty, self.silent = self._assign_anomalies()
        self.active_machines = 0

    def _assign_anomalies(self) -> tuple[list[_Machine], list[_Machine], list[_Machine]]:
        rng, p = self.rng, self.params
        keys = len(self.machines)
        wanted = [max(1, round(share * keys)) for share in (DEGRADING_SHARE, FAULTY_SHARE, SILENT_SHARE)]
        spare = keys - 1
        counts = []
        for n in wanted:
            counts.append(min(n, spare))
            spare -= counts[-1]
        shuffled = rng.sample(self.machines, keys)
        degrading = shuffled[: counts[0]]
        faulty = shuffled[counts[0]: counts[0] + counts[1]]
        silent = shuffled[counts[0] + counts[1]: sum(counts)]
        start, span = p.start_time_ms, p.planned_span_ms
        for machine in degrading:
            mode = rng.choice(sorted(FAILURE_THRESHOLDS))
            onset = start + rng.uniform(0.05, 0.35) * span
            failure = onset + rng.uniform(0.3, 0.55) * span
            machine.degradation = {"mode": mode, "onset_ms": onset, "failure_ms": failure}
            machine.stop_ms = failure + 1
        for machine in faulty:
            machine.fault = {"sensor": rng.choice(SENSORS), "kind": rng.choice(("stuck", "impossible")),
                             "from_ms": start + rng.uniform(0.15, 0.6) * span, "value": None, "readings": 0}
        for machine in silent:
            machine.stop_ms = start + rng.uniform(0.3, 0.8) * span
        return (sorted(degrading, key=lambda m: m.machine_id), sorted(faulty, key=lambda m: m.machine_id),
                sorted(silent, key=lambda m: m.machine_id))

    def events(self) -> Iterator[_Emitted]:
        order = sorted(self.machines, key=lambda m: (m.phase_ms, m.machine_id))
        for tick in itertools.count():
            tick_start = self.params.start_time_ms + tick * self.period_ms
            reported = False
            for machine in order:
                t = tick_start + machine.phase_ms
                if self.past_end(t):
                    return
                if t >= machine.stop_ms:
                    continue
                reported = True
                yield self._reading(machine, t)
            if not reported:
                return

    def late_copy(self, template: _Emitted, event_time_ms: int) -> _Emitted:
        """A reading sent late (a gateway that buffered it) with the machine's latest values."""
        machine = next(m for m in self.machines if m.key == template.key)
        machine.sequence += 1
        reading = maintenance_pb2.SensorReading(reading_id=self.new_id(), machine_id=machine.machine_id,
                                                event_time_ms=event_time_ms, sequence=machine.sequence,
                                                **machine.last_values)
        return _Emitted(machine.key, self.encode(reading), Label("event", reading.reading_id),
                        reading, event_time_ms)

    def _reading(self, machine: _Machine, t: float) -> _Emitted:
        rng = self.rng
        values = {}
        for sensor in SENSORS:
            machine.drift[sensor] = 0.97 * machine.drift[sensor] + rng.gauss(0.0, DRIFT_SD[sensor])
            values[sensor] = machine.base[sensor] + machine.drift[sensor] + rng.gauss(0.0, NOISE_SD[sensor])
        tags: list[str] = []
        degradation = machine.degradation
        if degradation and t >= degradation["onset_ms"]:
            progress = min(1.0, (t - degradation["onset_ms"]) / (degradation["failure_ms"] - degradation["onset_ms"]))
            severity = progress**2
            (sensor, threshold), = FAILURE_THRESHOLDS[degradation["mode"]].items()
            values[sensor] += (threshold - machine.base[sensor]) * DEGRADATION_OVERSHOOT * severity
            if degradation["mode"] == "bearing_wear":
                values["temperature_c"] += 20.0 * severity
            else:
                values["pressure_bar"] -= 0.35 * machine.base["pressure_bar"] * severity
            tags.append("degrading")
        values = {s: round(v, DECIMALS[s]) for s, v in values.items()}
        if degradation and "threshold_crossed_ms" not in degradation:
            (sensor, threshold), = FAILURE_THRESHOLDS[degradation["mode"]].items()
            if values[sensor] >= threshold:
                degradation["threshold_crossed_ms"] = int(t)
        fault = machine.fault
        if fault and t >= fault["from_ms"]:
            sensor = fault["sensor"]
            if fault["kind"] == "stuck":
                if fault["value"] is None:
                    fault["value"] = machine.last_values.get(sensor, values[sensor])
                values[sensor] = fault["value"]
                fault["readings"] += 1
                tags.append(f"stuck:{sensor}")
            elif rng.random() < IMPOSSIBLE_READING_SHARE:
                fault["value"] = values[sensor] = IMPOSSIBLE_VALUES[sensor]
                fault["readings"] += 1
                tags.append(f"impossible:{sensor}")
        elif rng.random() < DROPOUT_SHARE:
            dropped = rng.choice(SENSORS)
            del values[dropped]
            tags.append(f"dropout:{dropped}")
        machine.last_values.update(values)
        machine.sequence += 1
        if machine.sequence == 1:
            self.active_machines += 1
        machine.last_ms = int(t)
        reading = maintenance_pb2.SensorReading(reading_id=self.new_id(), machine_id=machine.machine_id,
                                                event_time_ms=int(t), sequence=machine.sequence, **values)
        return _Emitted(machine.key, self.encode(reading), Label("event", reading.reading_id, tuple(tags)),
                        reading, int(t))

    def keys_used(self) -> int:
        return self.active_machines

    def truth(self) -> dict[str, Any]:
        degrading = {}
        for m in self.degrading:
            d = m.degradation
            failure_ms = int(d["failure_ms"])
            degrading[m.machine_id] = {
                "mode": d["mode"], "onset_ms": int(d["onset_ms"]), "failure_ms": failure_ms,
                "failure_thresholds": FAILURE_THRESHOLDS[d["mode"]],
                "threshold_crossed_ms": d.get("threshold_crossed_ms"), "last_event_ms": m.last_ms,
                "failed_in_stream": m.last_ms is not None and m.last_ms + self.period_ms > failure_ms,
            }
        faulty = {m.machine_id: [{"sensor": m.fault["sensor"], "kind": m.fault["kind"],
                                  "from_ms": int(m.fault["from_ms"]), "value": m.fault["value"],
                                  "readings": m.fault["readings"]}] for m in self.faulty}
        silent = {m.machine_id: {"silent_from_ms": int(m.stop_ms), "last_event_ms": m.last_ms} for m in self.silent}
        return {"period_ms": self.period_ms, "degrading": degrading, "faulty": faulty, "silent": silent,
                "impossible_values": IMPOSSIBLE_VALUES}


# The jobs' default allowed lateness, which `late` events are seeded around.
ALLOWED_LATENESS = {"inventory": InventoryModel().allowed_lateness_ms,
                    "maintenance": MaintenanceModel().allowed_lateness_ms}

GENERATORS: dict[str, type[_DomainGenerator]] = {
    "fraud": _FraudGenerator,
    "inventory": _InventoryGenerator,
    "maintenance": _MaintenanceGenerator,
}


# ---------------------------------------------------------------- poison

ID_FIELDS = {"fraud": "transaction_id", "inventory": "event_id", "maintenance": "reading_id"}
# A valid event of another domain is poison here; each pairing is checked to fail.
FOREIGN_DOMAIN = {"fraud": "inventory", "inventory": "maintenance", "maintenance": "fraud"}


def example_event(domain: str, event_id: str, event_time_ms: int) -> Message:
    """A fixed valid event of `domain`: the foreign-message poison and the template before any event."""
    if domain == "fraud":
        return fraud_pb2.CardTransaction(
            transaction_id=event_id, card_id="card-000000", event_time_ms=event_time_ms, sequence=1,
            amount_minor=1250, currency="USD", merchant_id="m000000", merchant_category="5411", country="US",
            latitude=40.7128, longitude=-74.006, channel=fraud_pb2.CARD_PRESENT)
    if domain == "inventory":
        return inventory_pb2.InventoryMovement(
            event_id=event_id, store_id="store-0001", sku="sku-000001", event_time_ms=event_time_ms,
            sequence=1, kind=inventory_pb2.SALE, quantity=1)
    return maintenance_pb2.SensorReading(
        reading_id=event_id, machine_id="machine-0001", event_time_ms=event_time_ms, sequence=1,
        temperature_c=55.0, vibration_mm_s=1.8, pressure_bar=6.0, rotation_rpm=1480.0)


def _missing_field_edits(domain: str) -> list[tuple[str, Any]]:
    if domain == "fraud":
        return [("transaction_id", ""), ("card_id", "")]
    if domain == "inventory":
        return [("event_id", ""), ("sku", ""), ("reservation_id", None)]
    return [("reading_id", ""), ("machine_id", ""), ("sensors", None)]


def _out_of_range_edits(domain: str) -> list[tuple[str, Any]]:
    common = [("event_time_ms", 86_400_000), ("sequence", 0)]
    if domain == "fraud":
        return common + [("amount_minor", -1250), ("amount_minor", MAX_AMOUNT_MINOR + 1), ("latitude", 123.5)]
    if domain == "inventory":
        return common + [("quantity", -2), ("kind", 42)]
    return common + [("temperature_c", math.nan), ("vibration_mm_s", math.inf)]


class _PoisonMaker:
    """Malformed messages, one kind after another in a seeded order, each checked to fail parsing."""

    def __init__(self, params: Params):
        self.params = params
        self.rng = random.Random(f"{params.seed}:poison")
        self.event_type = EVENT_TYPES[DOMAINS[params.domain].event_type]
        self.frame_schema_id = params.schema_id if params.framing == "confluent" else None
        self.kinds = list(POISON_KINDS)
        self.rng.shuffle(self.kinds)
        self.made = 0

    def make(self, template: Message) -> tuple[str, str, bytes, str]:
        """Returns (kind, poison id, bytes, the reason the decoder gives)."""
        kind = self.kinds[self.made % len(self.kinds)]
        self.made += 1
        poison_id = f"poison-{_uuid(self.rng)}"
        for _ in range(100):
            value = self._build(kind, template, poison_id)
            try:
                self.event_type.parse(value)
            except DecodeError as exc:
                return kind, poison_id, value, exc.reason
            if kind != "garbage":
                break
        raise AssertionError(f"a {kind} poison message parsed as a valid {self.event_type.name}")

    def _copy(self, template: Message, poison_id: str) -> Message:
        message = type(template)()
        message.CopyFrom(template)
        setattr(message, ID_FIELDS[self.params.domain], poison_id)
        return message

    def _build(self, kind: str, template: Message, poison_id: str) -> bytes:
        rng, domain = self.rng, self.params.domain
        schema_id = self.frame_schema_id if self.frame_schema_id is not None else DEFAULT_SCHEMA_ID
        if kind == "garbage":
            return rng.randbytes(rng.randint(8, 64))
        if kind == "empty":
            return b""
        if kind == "truncated_header":
            return b"\x00" + schema_id.to_bytes(4, "big")[: rng.randint(0, 4)]
        if kind == "truncated_protobuf":
            payload = self._copy(template, poison_id).SerializeToString()
            cut = rng.randint(2, 1 + len(poison_id))  # inside the id, field 1, serialized first
            return self._frame(payload[:cut])
        if kind == "wrong_message_index":
            payload = self._copy(template, poison_id).SerializeToString()
            return codec.frame(payload, schema_id, (rng.choice((1, 2)),))
        if kind == "foreign_message":
            foreign = example_event(FOREIGN_DOMAIN[domain], poison_id, self.params.start_time_ms)
            return self._frame(foreign.SerializeToString())
        message = self._copy(template, poison_id)
        edits = _missing_field_edits(domain) if kind == "missing_field" else _out_of_range_edits(domain)
        name, value = rng.choice(edits)
        if name == "sensors":
            for sensor in SENSORS:
                message.ClearField(sensor)
        elif name == "reservation_id":
            message.kind = inventory_pb2.RESERVATION
            message.reservation_id = ""
        else:
            setattr(message, name, value)
        return self._frame(message.SerializeToString())

    def _frame(self, payload: bytes) -> bytes:
        return payload if self.frame_schema_id is None else codec.frame(payload, self.frame_schema_id)


# ---------------------------------------------------------------- the stream


class EventStream:
    """One seeded stream: iterate once for `Record`s, then `truth()` is the ground truth.

    Options: count (valid event messages; default DEFAULT_COUNT unless duration_s is
    given), duration_s (event-time span instead of a count), rate (events/s of event
    time; default per domain), keys (cards, store-SKU pairs or machines; default per
    domain), seed, poison (number of malformed messages), framing ("raw" or
    "confluent"), schema_id, start_time_ms, out_of_order_ms (inventory lateness bound), late
    and resend (events around the allowed lateness and exact copies, see the module doc),
    allowed_lateness_ms (default: the job model's).
    """

    def __init__(self, domain: str, *, count: int | None = None, duration_s: float | None = None,
                 rate: float | None = None, keys: int | None = None, seed: int = DEFAULT_SEED,
                 poison: int = 0, framing: str = "raw", schema_id: int = DEFAULT_SCHEMA_ID,
                 start_time_ms: int = DEFAULT_START_TIME_MS, out_of_order_ms: int = DEFAULT_OUT_OF_ORDER_MS,
                 late: int = 0, resend: int = 0, allowed_lateness_ms: int | None = None):
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
        defaults = DOMAINS[domain]
        if count is not None and duration_s is not None:
            raise ValueError("give a count or a duration, not both")
        if count is None and duration_s is None:
            count = DEFAULT_COUNT
        rate = defaults.default_rate if rate is None else rate
        keys = defaults.default_keys if keys is None else keys
        checks = [
            (count is None or count >= 1, f"count must be 1 or more, not {count}"),
            (duration_s is None or duration_s > 0, f"duration must be positive, not {duration_s}"),
            (rate > 0 and math.isfinite(rate), f"rate must be a positive number of events per second, not {rate}"),
            (keys >= 1, f"keys must be 1 or more, not {keys}"),
            (poison >= 0, f"poison must be 0 or more, not {poison}"),
            (framing in FRAMINGS, f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}"),
            (0 <= schema_id < 2**31, f"schema id {schema_id} is outside 0..2^31-1"),
            (start_time_ms >= MIN_EVENT_TIME_MS, f"start time {start_time_ms} ms is before 2000-01-01"),
            (out_of_order_ms >= 0, f"out-of-order bound must be 0 or more, not {out_of_order_ms}"),
            (late >= 0 and resend >= 0, f"late and resend must be 0 or more, not {late} and {resend}"),
            (not late or domain in ALLOWED_LATENESS, f"the {domain} job has no allowed lateness to seed late "
                                                     f"events around"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if allowed_lateness_ms is None:
            allowed_lateness_ms = ALLOWED_LATENESS.get(domain, 0)
        self.params = Params(domain, count, duration_s, float(rate), keys, seed, poison, framing, schema_id,
                             start_time_ms, out_of_order_ms, late, resend, allowed_lateness_ms)
        self._domain = GENERATORS[domain](self.params)
        self._poison = _PoisonMaker(self.params)
        positions_rng = random.Random(f"{seed}:poison-positions")
        planned_total = self.params.planned_events + poison
        self._poison_positions = sorted(positions_rng.sample(range(1, planned_total), poison))
        # Drawn apart from the domain's generator, so without them the stream is unchanged.
        self._edge_rng = random.Random(f"{seed}:late-and-resend")
        spots = self._edge_rng.sample(range(1, max(2, self.params.planned_events - late - resend)), late + resend)
        self._late_after, self._resend_after = set(spots[:late]), set(spots[late:])
        self._key_time: dict[bytes, int] = {}
        self._domain_events = 0
        self._late_log: list[dict[str, Any]] = []
        self._started = False
        self.finished = False
        self.messages = 0
        self.valid = 0
        self.duplicates = 0
        self._first_ms: int | None = None
        self._min_ms: int | None = None
        self._max_ms: int | None = None
        self._last_ms: int | None = None
        self._poison_log: list[dict[str, Any]] = []

    @property
    def expected_messages(self) -> int:
        """Exact with a count; an estimate with a duration."""
        return self.params.planned_events + self.params.poison

    def __iter__(self) -> Iterator[Record]:
        if self._started:
            raise RuntimeError("an EventStream is read once; create a new one to read it again")
        self._started = True
        positions = deque(self._poison_positions)
        events = self._domain.events()
        template: _Emitted | None = None
        while True:
            if positions and positions[0] <= self.messages:
                positions.popleft()
                yield self._poison_record(template)
                continue
            if self.params.count is not None and self.valid >= self.params.count:
                break
            item = next(events, None)
            if item is None:
                break
            template = item
            self._note(item)
            yield Record(item.key, item.value, item.label, item.event_time_ms)
            for extra in self._extras(item):
                if self.params.count is not None and self.valid >= self.params.count:
                    break
                self._note(extra)
                yield Record(extra.key, extra.value, extra.label, extra.event_time_ms)
        while positions:
            positions.popleft()
            yield self._poison_record(template)
        self.finished = True

    def _extras(self, item: _Emitted) -> Iterator[_Emitted]:
        """The late event and the copy seeded after the domain's n-th event, if any."""
        self._domain_events += 1
        if self._domain_events in self._late_after:
            key_time = self._key_time[item.key]
            # Alternately 1..1000 ms past the allowed lateness (late) and 0..999 ms inside it (on time).
            late = len(self._late_log) % 2 == 0
            offset = self._edge_rng.randint(1, 1000) if late else -self._edge_rng.randint(0, 999)
            event_time = key_time - self.params.allowed_lateness_ms - offset
            extra = self._domain.late_copy(item, event_time)
            tags = extra.label.tags + ("late_edge", "late" if late else "on_time")
            extra = extra._replace(label=extra.label._replace(tags=tags))
            self._late_log.append({"event_id": extra.label.event_id, "key": item.key.decode(),
                                   "key_time_ms": key_time, "event_time_ms": event_time, "late": late})
            yield extra
        if self._domain_events in self._resend_after:
            yield item._replace(label=Label("duplicate", item.label.event_id, item.label.tags))

    def _note(self, item: _Emitted) -> None:
        self._key_time[item.key] = max(self._key_time.get(item.key, item.event_time_ms), item.event_time_ms)
        self.messages += 1
        self.valid += 1
        if item.label.kind == "duplicate":
            self.duplicates += 1
        t = item.event_time_ms
        if self._first_ms is None:
            self._first_ms = self._min_ms = self._max_ms = t
        self._min_ms = min(self._min_ms, t)
        self._max_ms = max(self._max_ms, t)
        self._last_ms = t

    def _poison_record(self, template: _Emitted | None) -> Record:
        if template is None:
            key, time_ms = b"poison", self.params.start_time_ms
            message = example_event(self.params.domain, "template", time_ms)
        else:
            key, message, time_ms = template.key, template.message, template.event_time_ms
        kind, poison_id, value, reason = self._poison.make(message)
        self._poison_log.append({"index": self.messages, "kind": kind, "reason": reason})
        self.messages += 1
        return Record(key, value, Label("poison", poison_id, (kind,)), time_ms)

    def truth(self) -> dict[str, Any]:
        """The ground truth of what was generated so far (all of it once iteration finished)."""
        poison_by_kind = {kind: 0 for kind in POISON_KINDS}
        for entry in self._poison_log:
            poison_by_kind[entry["kind"]] += 1
        domain_truth = self._domain.truth()
        out_of_order = len(domain_truth.get("out_of_order", ()))
        return {
            "format": TRUTH_FORMAT,
            "domain": self.params.domain,
            "event_type": DOMAINS[self.params.domain].event_type,
            "seed": self.params.seed,
            "params": self.params.as_dict(),
            "complete": self.finished,
            "counts": {
                "messages": self.messages,
                "valid_events": self.valid,
                "unique_events": self.valid - self.duplicates,
                "duplicates": self.duplicates,
                "out_of_order": out_of_order,
                "poison": len(self._poison_log),
                "poison_by_kind": poison_by_kind,
                "keys": self._domain.keys_used(),
            },
            "event_time": {"first_ms": self._first_ms, "last_ms": self._last_ms,
                           "min_ms": self._min_ms, "max_ms": self._max_ms},
            "poison_indexes": [entry["index"] for entry in self._poison_log],
            "poison": self._poison_log,
            "labels": domain_truth,
            **({"late_edge": self._late_log} if self.params.late else {}),
        }


@dataclass
class GeneratedStream:
    records: list[tuple[bytes, bytes]]
    labels: list[Label]
    truth: dict[str, Any]
    times_ms: list[int]

    def publish(self, bootstrap: str, topic: str) -> int:
        """Produce every record, keyed and timestamped, to `topic`; returns how many."""
        output = KafkaOutput(bootstrap, topic)
        for (key, value), time_ms in zip(self.records, self.times_ms):
            output.write(key, value, time_ms)
        output.close()
        return output.written


def generate(domain: str, **options: Any) -> GeneratedStream:
    """The whole stream in memory, for tests and the reference oracle; options as `EventStream`."""
    stream = EventStream(domain, **options)
    records, labels, times = [], [], []
    for key, value, label, time_ms in stream:
        records.append((key, value))
        labels.append(label)
        times.append(time_ms)
    return GeneratedStream(records, labels, stream.truth(), times)


# ---------------------------------------------------------------- outputs

_LENGTH = struct.Struct(">I")


class OutputError(RuntimeError):
    """A destination that cannot take the stream; the message is one line for the user."""


def write_records(path: str | os.PathLike[str], records: Iterable[tuple[bytes, bytes]]) -> int:
    """Write records in the length-prefixed file format; returns how many."""
    output = FileOutput(Path(path))
    for key, value in records:
        output.write(key, value)
    output.close()
    return output.written


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, bytes]]:
    """Read (key, value) pairs back from the length-prefixed file format."""
    with open(path, "rb") as f:

        def read_exact(size: int) -> bytes:
            data = f.read(size)
            if len(data) != size:
                raise ValueError(f"{path} ends in the middle of a record")
            return data

        while True:
            head = f.read(_LENGTH.size)
            if not head:
                return
            if len(head) != _LENGTH.size:
                raise ValueError(f"{path} ends in the middle of a record")
            key = read_exact(_LENGTH.unpack(head)[0])
            value = read_exact(_LENGTH.unpack(read_exact(_LENGTH.size))[0])
            yield key, value


class FileOutput:
    """The length-prefixed file; written to a temporary name and renamed when complete."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = path.with_name(path.name + ".partial")
        self._file = open(self._partial, "wb")
        self.written = 0

    def write(self, key: bytes, value: bytes, timestamp_ms: int | None = None) -> None:
        self._file.write(_LENGTH.pack(len(key)) + key + _LENGTH.pack(len(value)) + value)
        self.written += 1

    def close(self) -> None:
        self._file.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


def _kafka_reason(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if hasattr(error, "str") else str(error)


class KafkaOutput:
    """Idempotent keyed producer: per-key order is kept because a key always goes to one partition."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = 1, timeout_s: float = BROKER_TIMEOUT_S):
        from confluent_kafka import KafkaException, Producer

        self.topic = topic
        self.bootstrap = bootstrap
        self.written = 0
        self.delivered = 0
        self.failed = 0
        self.first_error = ""
        logger = quiet_kafka_logger()
        self._producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 5, "message.timeout.ms": DELIVERY_TIMEOUT_MS, "logger": logger,
        })
        try:
            metadata = self._producer.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            reason = _kafka_reason(exc)
            raise OutputError(f"cannot reach Kafka at {bootstrap} within {timeout_s:g} s ({reason})") from None
        if topic not in metadata.topics:
            self._create_topic(partitions, timeout_s, logger)

    def _create_topic(self, partitions: int, timeout_s: float, logger: logging.Logger) -> None:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "logger": logger})
        futures = admin.create_topics([NewTopic(self.topic, num_partitions=partitions, replication_factor=-1)],
                                      operation_timeout=timeout_s, request_timeout=timeout_s)
        try:
            futures[self.topic].result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
                return
            raise OutputError(f"cannot create topic {self.topic} on {self.bootstrap}: {_kafka_reason(exc)}") from None

    def _on_delivery(self, error: Any, _message: Any) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if not self.first_error:
            self.first_error = error.str()

    def write(self, key: bytes, value: bytes, timestamp_ms: int | None = None) -> None:
        extra = {"timestamp": timestamp_ms} if timestamp_ms else {}
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=self._on_delivery, **extra)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)
        self.written += 1

    def close(self) -> None:
        flush_timeout_s = DELIVERY_TIMEOUT_MS / 1000 + 10
        remaining = self._producer.flush(flush_timeout_s)
        if remaining:
            raise OutputError(f"{remaining} of {self.written} messages not delivered to {self.topic} "
                              f"within {flush_timeout_s:g} s")
        if self.failed:
            raise OutputError(f"{self.failed} of {self.written} messages failed delivery to {self.topic}: "
                              f"{self.first_error}")

    def abort(self) -> None:
        self._producer.purge()
        self._producer.poll(0)


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `generate` subcommand's arguments, including the positional domain."""
    parser.add_argument("domain", choices=sorted(DOMAINS), help="which job's input to generate")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--count", type=positive_int,
                      help=f"valid event messages, duplicates included; poison comes on top (default {DEFAULT_COUNT})")
    size.add_argument("--duration", type=positive_float, metavar="SECONDS",
                      help="generate every event in this event-time span instead of a count")
    parser.add_argument("--rate", type=positive_float, metavar="EVENTS_PER_S",
                        help="event-time spacing over all keys (default: fraud 100, inventory 100, maintenance 20); "
                             "also the send rate with --realtime")
    parser.add_argument("--realtime", action="store_true",
                        help="throttle sending to --rate messages per wall-clock second (default: as fast as possible)")
    parser.add_argument("--keys", type=positive_int,
                        help="cards, store-SKU pairs or machines (default: 10000, 1000, 100)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--framing", choices=FRAMINGS, default="raw",
                        help="plain protobuf or the Confluent Schema Registry wire format (default raw)")
    parser.add_argument("--schema-id", type=non_negative_int, default=DEFAULT_SCHEMA_ID,
                        help=f"schema id written by --framing confluent (default {DEFAULT_SCHEMA_ID})")
    parser.add_argument("--poison", type=non_negative_int, default=0, metavar="N",
                        help="malformed messages to interleave; every one fails decoding or validation")
    parser.add_argument("--start-time-ms", type=int, default=DEFAULT_START_TIME_MS,
                        help=f"event time of the stream start (default {DEFAULT_START_TIME_MS}, 2024-01-01 UTC)")
    parser.add_argument("--out-of-order-ms", type=non_negative_int, default=DEFAULT_OUT_OF_ORDER_MS,
                        help="inventory: how far behind the newest event time a late event may be "
                             f"(default {DEFAULT_OUT_OF_ORDER_MS}; 0 disables late events)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-file", type=Path, metavar="PATH",
                        help="write length-prefixed records (4-byte big-endian length + key, then value)")
    target.add_argument("--topic", help="produce to this Kafka topic, keyed by the event key "
                                        "(default: the job's input topic, e.g. fraud.transactions)")
    parser.add_argument("--bootstrap",
                        help=f"Kafka bootstrap servers (default: the local stack's, {DEFAULT_BOOTSTRAP} "
                             "unless STREAMSUITE_KAFKA_PORT moves it)")
    parser.add_argument("--partitions", type=positive_int,
                        help="partitions when the topic has to be created (default: as the job's input topic)")
    parser.add_argument("--broker-timeout", type=positive_float, default=BROKER_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long to wait for the broker before failing (default {BROKER_TIMEOUT_S:g})")
    parser.add_argument("--truth", type=Path, metavar="PATH",
                        help="ground-truth JSON (default PATH.truth.json, or .run/generated/TOPIC.truth.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")


def _truth_path(args: argparse.Namespace) -> Path:
    if args.truth is not None:
        return args.truth
    if args.to_file is not None:
        return Path(str(args.to_file) + ".truth.json")
    from streamsuite.paths import run_dir

    return run_dir() / "generated" / f"{args.topic}.truth.json"


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(truth, indent=1) + "\n")
    os.replace(partial, path)


class _Progress:
    """A line on stderr about once a second, so a long run shows it is moving."""

    def __init__(self, label: str, expected: int, exact: bool, quiet: bool):
        self.label = label
        self.expected = f"{expected}" if exact else f"~{expected}"
        self.quiet = quiet
        self.started = time.monotonic()
        self.next_report = self.started + 1.0

    def update(self, sent: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now >= self.next_report:
            self.next_report = now + 1.0
            rate = sent / max(now - self.started, 1e-9)
            print(f"{self.label}: {sent}/{self.expected} messages, {rate:,.0f} msg/s", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """`streamsuite generate`: stream to a file or topic, then write the ground truth."""
    prog = "streamsuite generate"
    from jobs.topology import JOBS

    if args.to_file is None and args.topic is None:
        args.topic = JOBS[args.domain].input_topic
    if args.bootstrap is None:
        from streamsuite.stack import StackSettings

        args.bootstrap = StackSettings.from_env().kafka_bootstrap
    if args.partitions is None:
        args.partitions = JOBS[args.domain].partitions
    try:
        stream = EventStream(
            args.domain, count=args.count, duration_s=args.duration, rate=args.rate, keys=args.keys,
            seed=args.seed, poison=args.poison, framing=args.framing, schema_id=args.schema_id,
            start_time_ms=args.start_time_ms, out_of_order_ms=args.out_of_order_ms)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    truth_path = _truth_path(args)
    destination = str(args.to_file) if args.to_file is not None else f"topic {args.topic} on {args.bootstrap}"
    output: FileOutput | KafkaOutput | None = None
    try:
        if args.to_file is not None:
            output = FileOutput(args.to_file)
        else:
            output = KafkaOutput(args.bootstrap, args.topic, args.partitions, args.broker_timeout)
        progress = _Progress(f"generate {args.domain}", stream.expected_messages, args.duration is None, args.quiet)
        started = time.monotonic()
        for key, value, _, time_ms in stream:
            if args.realtime:
                due = started + output.written / stream.params.rate
                wait = due - time.monotonic()
                if wait > 0.001:
                    time.sleep(wait)
            output.write(key, value, time_ms)
            progress.update(output.written)
        output.close()
    except OutputError as exc:
        if output is not None:
            output.abort()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if output is not None:
            output.abort()
        print(f"{prog}: error: cannot write {destination}: {exc}", file=sys.stderr)
        return 1
    truth = stream.truth()
    write_truth(truth_path, truth)
    if not args.quiet:
        counts = truth["counts"]
        elapsed = time.monotonic() - started
        print(f"{prog}: {counts['messages']} messages ({counts['valid_events']} valid, {counts['duplicates']} "
              f"duplicates, {counts['poison']} poison) to {destination} in {elapsed:.1f} s; truth in {truth_path}",
              file=sys.stderr)
    return 0
