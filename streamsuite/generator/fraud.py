"""Card transactions: cardholders with a home city, a few usual merchants and lognormal amounts,
plus labelled fraud incidents (card testing, impossible travel, amount spikes, new high-risk merchants,
velocity bursts, account takeovers)."""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from google.protobuf.message import Message

from streamsuite.generator.base import COMMON_OUT_OF_RANGE, DomainGenerator, Emitted, Label, Params, state_key
from streamsuite_proto.v1 import fraud_pb2
from udfs.fraud import MAX_AMOUNT_MINOR

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
FRAUD_PATTERNS = ("card_testing", "impossible_travel", "amount_spike", "new_high_risk_merchant", "velocity",
                  "account_takeover")
# Patterns that need a card with history: "usual" and "never seen" mean something only then.
NEEDS_HISTORY = ("amount_spike", "new_high_risk_merchant", "velocity", "account_takeover")

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
# A cloned card used at one shop after another near home: many ordinary purchases in a minute or two.
VELOCITY_TXS = (6, 12)
VELOCITY_WINDOW_MS = (60_000, 150_000)
VELOCITY_OVER_MEDIAN = (0.8, 3.0)
# Someone else logged in to the card's account: a few online purchases at shops of another
# country (where the fraudster is), dearer than the cardholder buys, within the hour.
TAKEOVER_TXS = (2, 5)
TAKEOVER_WINDOW_MS = (10 * 60_000, 45 * 60_000)
TAKEOVER_OVER_MEDIAN = (3.0, 10.0)
INCIDENT_MAX_MS = max(CARD_TESTING_WINDOW_MS, IMPOSSIBLE_TRAVEL_MAX_GAP_MS, TAKEOVER_WINDOW_MS[1]) + 60_000


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


class FraudGenerator(DomainGenerator):
    """Cards with a home city, a few usual merchants and lognormal amounts, plus fraud incidents."""

    default_keys, default_rate = 10_000, 100.0
    id_field = "transaction_id"
    missing_field_edits = (("transaction_id", ""), ("card_id", ""))
    out_of_range_edits = COMMON_OUT_OF_RANGE + (("amount_minor", -1250), ("amount_minor", MAX_AMOUNT_MINOR + 1),
                                                ("latitude", 123.5))

    @staticmethod
    def example_event(event_id: str, event_time_ms: int) -> Message:
        return fraud_pb2.CardTransaction(
            transaction_id=event_id, card_id="card-000000", event_time_ms=event_time_ms, sequence=1,
            amount_minor=1250, currency="USD", merchant_id="m000000", merchant_category="5411", country="US",
            latitude=40.7128, longitude=-74.006, channel=fraud_pb2.CARD_PRESENT)

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

    def events(self) -> Iterator[Emitted]:
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
        index = self._pick_card(pattern in NEEDS_HISTORY, t)
        self.busy_until[index] = t + INCIDENT_MAX_MS
        card = self.cards[index]
        incident: dict[str, Any] = {"pattern": pattern, "card_id": card.card_id, "start_ms": int(t), "end_ms": int(t),
                                    "planned_transactions": 1, "transaction_ids": [], "context_transaction_ids": []}
        self.incidents.append(incident)
        if pattern == "card_testing":
            targets = rng.sample(self.card_testing_targets, rng.randint(1, 2))
            times = self._burst(t, CARD_TESTING_TXS, (CARD_TESTING_WINDOW_MS, CARD_TESTING_WINDOW_MS), incident)
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
        if pattern == "velocity":
            return self._velocity(index, t, incident)
        if pattern == "account_takeover":
            return self._takeover(index, t, incident)
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

    def _burst(self, t: float, counts: tuple[int, int], windows: tuple[float, float],
               incident: dict[str, Any]) -> list[float]:
        """The times of an incident's `counts` transactions from `t`, within a window drawn from `windows`."""
        rng = self.rng
        count = rng.randint(*counts)
        window = min(rng.uniform(*windows), max(2_000.0, self.params.planned_span_ms / 5))
        incident["planned_transactions"] = count
        return [t] + sorted(t + rng.uniform(0, window) for _ in range(count - 1))

    def _velocity(self, index: int, t: float, incident: dict[str, Any]) -> list[tuple[float, _PlannedTx]]:
        rng, card = self.rng, self.cards[index]
        stores = self.stores_by_city[(card.country, card.city)]
        low, high = VELOCITY_OVER_MEDIAN
        return [(when, _PlannedTx(index, rng.choice(stores),
                                  max(LEGIT_MIN_MINOR, self._minor(card, card.median_cents * rng.uniform(low, high))),
                                  fraud_pb2.CARD_PRESENT, "velocity", incident))
                for when in self._burst(t, VELOCITY_TXS, VELOCITY_WINDOW_MS, incident)]

    def _takeover(self, index: int, t: float, incident: dict[str, Any]) -> list[tuple[float, _PlannedTx]]:
        rng, card = self.rng, self.cards[index]
        country = rng.choice([c for c in HOME_COUNTRY_WEIGHTS if c != card.country])
        incident["country"] = country
        shops = self.online_by_country[country]
        low, high = TAKEOVER_OVER_MEDIAN
        return [(when, _PlannedTx(index, rng.choice(shops),
                                  self._minor(card, card.median_cents * rng.uniform(low, high)),
                                  fraud_pb2.ECOMMERCE, "account_takeover", incident))
                for when in self._burst(t, TAKEOVER_TXS, TAKEOVER_WINDOW_MS, incident)]

    def _emit(self, t: float, planned: _PlannedTx) -> Emitted:
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
        return Emitted(card.key, self.encode(tx), Label("event", tx.transaction_id, tags), tx, int(t))

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
