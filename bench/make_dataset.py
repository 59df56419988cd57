"""Write a flat JSON dataset for the export benchmark: an array of N records with 24 fields each.

Usage: python bench/make_dataset.py [--records N] [--seed S] OUT.json

The fields mix what real exports carry: short and long text, ids, dates, integers, floats, booleans and
the occasional null. The file is written record by record, so a million records need no more memory
than one.
"""

import argparse
import json
import random
from pathlib import Path

FIELDS = 24


def record(rng: random.Random, number: int) -> dict[str, object]:
    """One record: 9 strings, 7 integers, 5 floats, 2 booleans and a field that is sometimes null."""
    return {
        "id": number,
        "uuid": f"{rng.getrandbits(128):032x}",
        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "email": f"user{rng.randrange(10**6)}@example.com",
        "city": rng.choice(CITIES),
        "country": rng.choice(("US", "DE", "FR", "JP", "BR", "IN")),
        "category": f"cat_{rng.randrange(500)}",
        "created_at": f"20{rng.randrange(10, 25)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
        "comment": " ".join(rng.choices(WORDS, k=rng.randrange(3, 12))),
        "quantity": rng.randrange(1, 100),
        "stock": rng.randrange(10_000),
        "views": rng.randrange(10**7),
        "year": rng.randrange(1990, 2026),
        "zip": rng.randrange(10_000, 99_999),
        "rank": rng.randrange(-500, 500),
        "clicks": rng.randrange(1000),
        "price": round(rng.uniform(1, 500), 2),
        "discount": round(rng.random(), 4),
        "rating": round(rng.uniform(0, 5), 1),
        "latitude": rng.uniform(-90, 90),
        "longitude": rng.uniform(-180, 180),
        "active": rng.random() < 0.5,
        "verified": rng.random() < 0.9,
        "manager_id": rng.randrange(1000) if rng.random() < 0.7 else None,
    }


FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman")
CITIES = ("Abilene", "Irvine", "Garden Grove", "São Paulo", "München", "Lyon", "Ōsaka", "Pune", "Leeds")
WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
]


def write_dataset(path: Path, records: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for number in range(1, records + 1):
            if number > 1:
                out.write(",\n")
            out.write(json.dumps(record(rng, number), ensure_ascii=False))
        out.write("]\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_dataset(args.out, args.records, args.seed)


if __name__ == "__main__":
    main()
