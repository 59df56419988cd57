"""Write a JSON dataset for the export benchmark: an array of N records, flat or issue-like.

Usage: python bench/make_dataset.py [--records N] [--seed S] [--shape flat|issues] OUT.json

``flat``: 24 fields per record, mixing what real exports carry: short and long text, ids, dates,
integers, floats, booleans and the occasional null. ``issues``: records shaped like a GitHub REST
issues response: a ``user`` object, ``labels`` as an array of objects (a child table), an
``assignee`` and a ``milestone`` that are null in most records and objects in the others, UTC
date-times, multi-line bodies. The file is written record by record, so a million records need no
more memory than one.
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


def _user(rng: random.Random) -> dict[str, object]:
    login = f"{rng.choice(FIRST_NAMES).lower()}{rng.randrange(1000)}"
    return {
        "login": login,
        "id": rng.randrange(10**8),
        "type": "User",
        "site_admin": rng.random() < 0.01,
        "html_url": f"https://github.com/{login}",
    }


def _timestamp(rng: random.Random) -> str:
    return (
        f"20{rng.randrange(15, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        f"T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
    )


def issue(rng: random.Random, number: int) -> dict[str, object]:
    """One issue-like record, nested as the GitHub REST API returns them."""
    closed = rng.random() < 0.6
    return {
        "id": 10**9 + number,
        "number": number,
        "title": " ".join(rng.choices(WORDS, k=rng.randrange(3, 9))),
        "state": "closed" if closed else "open",
        "html_url": f"https://github.com/example/project/issues/{number}",
        "user": _user(rng),
        "labels": [
            {
                "id": 1000 + label,
                "name": LABELS[label],
                "color": f"{rng.getrandbits(24):06x}",
                "default": label == 0,
            }
            for label in rng.sample(range(len(LABELS)), rng.randrange(0, 4))
        ],
        "assignee": _user(rng) if rng.random() < 0.2 else None,
        "milestone": {
            "id": rng.randrange(100),
            "title": f"v{rng.randrange(1, 6)}.{rng.randrange(10)}",
            "due_on": _timestamp(rng),
        }
        if rng.random() < 0.1
        else None,
        "comments": rng.randrange(40),
        "created_at": _timestamp(rng),
        "closed_at": _timestamp(rng) if closed else None,
        "locked": rng.random() < 0.05,
        "body": "\n\n".join(
            " ".join(rng.choices(WORDS, k=rng.randrange(5, 30))) for _ in range(rng.randrange(1, 4))
        ),
        "reactions": {"total_count": rng.randrange(20), "+1": rng.randrange(10), "-1": rng.randrange(3)},
    }


LABELS = ("bug", "enhancement", "documentation", "good first issue", "help wanted", "question", "wontfix")
SHAPES = {"flat": record, "issues": issue}


def write_dataset(path: Path, records: int, seed: int = 0, shape: str = "flat") -> None:
    make, rng = SHAPES[shape], random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for number in range(1, records + 1):
            if number > 1:
                out.write(",\n")
            out.write(json.dumps(make(rng, number), ensure_ascii=False))
        out.write("]\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="flat")
    args = parser.parse_args()
    write_dataset(args.out, args.records, args.seed, args.shape)


if __name__ == "__main__":
    main()
