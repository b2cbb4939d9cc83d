"""Reading a /metrics page in tests: samples by name and labels, and deltas between scrapes."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: list[tuple[str, dict[str, str], float]]
    types: dict[str, str]
    """Family name → type (counter, gauge, histogram), from the `# TYPE` lines."""

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(
            value
            for sample, sample_labels, value in self.samples
            if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
            for sample, sample_labels, _ in self.samples
        )

    def names(self) -> set[str]:
        return {sample for sample, _, _ in self.samples}


def parse(text: str) -> Scrape:
    samples: list[tuple[str, dict[str, str], float]] = []
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        samples.extend((s.name, dict(s.labels), s.value) for s in family.samples)
    return Scrape(text=text, samples=samples, types=types)


def scrape(base_url: str) -> Scrape:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return parse(response.text)


async def ascrape(base_url: str) -> Scrape:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{base_url}/metrics")
    response.raise_for_status()
    return parse(response.text)
