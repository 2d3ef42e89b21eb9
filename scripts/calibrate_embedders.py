"""Calibrate each embedder's noise floors: how similar two turns that have nothing to do with each other get.

Page-in counts a vector hit as evidence only above its embedder's floor (``nexint_core.embedders``'
profiles). The floor is the 95th percentile of the similarity between pairs of 1,000 generated small-talk
turns (``nexint_bench.synthetic.small_talk``, seed 123) that share no content word (two fillings of one
template are related, not noise): ``raw_floor`` for one turn's vector against another's, ``noise_floor``
for a turn's vector less the centroid of the 1,000, normalised (the probe page-in searches with), against
another's. No question of any set is read.

    python scripts/calibrate_embedders.py --embedders hashing,wordllama [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import numpy.typing as npt

from nexint_bench.synthetic import small_talk
from nexint_core.embedders import content_words, embedder_profile, make_embedder, stem


def unrelated_pairs(texts: list[str]) -> npt.NDArray[np.bool_]:
    """A square mask: True for two different turns that share no content word."""
    words = [set(map(stem, content_words(text))) for text in texts]
    return np.array([[i != j and not (a & b) for j, b in enumerate(words)] for i, a in enumerate(words)])


def calibrate(name: str, texts: list[str], q: float) -> dict[str, object]:
    embedder = make_embedder(name)
    vectors = embedder.embed(texts)
    probes = vectors - vectors.mean(axis=0)
    probes /= np.maximum(np.linalg.norm(probes, axis=1, keepdims=True), 1e-12)
    profile = embedder_profile(embedder)
    mask = unrelated_pairs(texts)
    return {
        "embedder": embedder.name,
        "pairs": int(mask.sum()),
        "raw_floor": round(float(np.percentile((vectors @ vectors.T)[mask], q)), 3),
        "noise_floor": round(float(np.percentile((probes @ vectors.T)[mask], q)), 3),
        "profile": {"raw_floor": profile.raw_floor, "noise_floor": profile.noise_floor},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", default="hashing,wordllama", help="comma-separated embedder names")
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--percentile", type=float, default=95.0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    texts = small_talk(args.turns, seed=args.seed)
    results = [calibrate(name.strip(), texts, args.percentile) for name in args.embedders.split(",") if name.strip()]
    if args.json:
        print(json.dumps({"turns": args.turns, "seed": args.seed, "percentile": args.percentile, "results": results}))
        return 0
    print(f"{'embedder':32} {'raw_floor':>9} {'noise_floor':>11}   profile (raw / noise)")
    for row in results:
        profile = row["profile"]
        assert isinstance(profile, dict)
        print(
            f"{row['embedder']!s:32} {row['raw_floor']:>9} {row['noise_floor']:>11}   "
            f"{profile['raw_floor']} / {profile['noise_floor']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
