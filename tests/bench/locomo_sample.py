"""A tiny LoCoMo-format file for the recall benchmark's tests: 2 conversations, 3 sessions each, the data's quirks.

Quirks kept on purpose: evidence ids that need repair (two ids in one string, a zero-padded turn, brackets,
stray spaces and colons), ids that name no turn, questions left with no evidence, a category-5 item with
``adversarial_answer`` instead of ``answer``, a ``session_10`` that must sort after ``session_2``, and keys
the benchmark ignores (``blip_caption``, ``observation``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (speakers, [(session number, date_time, [texts, speakers alternating from the first])])
_CONVERSATIONS: dict[str, tuple[tuple[str, str], list[tuple[int, str, list[str]]]]] = {
    "conv-a": (
        ("Alice", "Bruno"),
        [
            (
                1,
                "1:56 pm on 8 May, 2023",
                [
                    "Hi Bruno! It has been a busy week, how are you?",
                    "Hey Alice, pretty good. I finally finished painting the kitchen walls yellow.",
                    "I adopted a parrot named Zephyr last spring and he keeps me company.",
                    "A parrot! Does Zephyr talk much?",
                    "He whistles the theme from an old cartoon every morning at seven.",
                    "That sounds lovely. I am training for the Lisbon marathon in October.",
                    "Good luck with the training, keep me posted!",
                ],
            ),
            (
                2,
                "2:10 pm on 20 June, 2023",
                [
                    "Zephyr learned to say my sister's name, Clara, this month.",
                    "Ha! My running coach says I should sleep more before long runs.",
                    "Clara is visiting from Montreal next weekend.",
                    "I bought new trail shoes, bright orange ones.",
                    "Orange suits you. We plan a picnic at the botanical garden.",
                    "The garden has a new greenhouse full of cacti.",
                    "Then we will go see the cacti first.",
                ],
            ),
            (
                3,
                "9:30 am on 2 August, 2023",
                [
                    "I signed up for a pottery class on Thursdays.",
                    "Pottery sounds relaxing. I started learning the cello.",
                    "Which piece are you practising on the cello?",
                    "A slow Bach suite, it is harder than it sounds.",
                    "My first bowl cracked in the kiln, sadly.",
                    "The next bowl will be better, I am sure.",
                    "Thanks! See you at the picnic next Saturday.",
                ],
            ),
        ],
    ),
    "conv-b": (
        ("Chen", "Dana"),
        [
            (
                10,  # written first in the file; sorts last (10 > 2 as numbers)
                "8:15 pm on 1 June, 2022",
                [
                    "I entered the river club tournament and won my first game.",
                    "Well done! Porto was beautiful, the tiles everywhere.",
                    "Did you try the custard tarts?",
                    "Six of them in two days, no regrets.",
                    "My balcony now has basil too.",
                    "Basil and tomatoes, perfect for a summer salad.",
                    "Come over for dinner on Friday then.",
                ],
            ),
            (
                1,
                "11:00 am on 3 March, 2022",
                [
                    "Morning Dana! I just moved to a flat near the river.",
                    "Congrats Chen! Is it the one with the blue door?",
                    "Yes, the blue door, and a tiny balcony for my tomato plants.",
                    "I started volunteering at the animal shelter on Sundays.",
                    "Which animals do you care for there?",
                    "Mostly old dogs, and one grumpy cat called Biscuit.",
                    "Biscuit sounds like a character.",
                ],
            ),
            (
                2,
                "4:45 pm on 15 April, 2022",
                [
                    "Hi Dana, any news from the shelter?",
                    "Biscuit got adopted by a retired teacher!",
                    "Great news. My tomatoes are finally turning red.",
                    "I am learning Portuguese for a trip to Porto.",
                    "Porto has wonderful tiles, take photos of the azulejos.",
                    "I will. Do you still play chess online?",
                    "Every evening, my rating reached 1500 last week.",
                ],
            ),
        ],
    ),
}

# (question, answer, evidence, category); category 5 items hold ``adversarial_answer`` instead of ``answer``.
_QA: dict[str, list[tuple[str, str, Any, int]]] = {
    "conv-a": [
        ("What is the name of Alice's parrot?", "Zephyr", ["D1:3"], 4),
        ("Whose name did Alice's parrot learn?", "Clara", ["D1:3; D2:1"], 1),  # two ids in one string
        ("When does the parrot whistle?", "At seven", ["D1:05"], 2),  # zero-padded
        ("What would Bruno cook?", "Soup", ["D9:9"], 3),  # names no turn: excluded
        ("What did the parrot break?", "A bowl", ["D3:5"], 5),
        ("What are the plans for next Saturday?", "A picnic", ["D3:7"], 4),  # the conversation's last turn
        ("When is Bruno's marathon?", "October", ["D1:6"], 2),
    ],
    "conv-b": [
        ("What is the shelter cat called?", "Biscuit", ["[D1:6]"], 4),
        ("Who adopted the grumpy cat?", "A teacher", ["D 1 : 6", "D2:2"], 1),
        ("When did Chen's chess rating reach 1500?", "April", ["D:2:7"], 2),
        ("What grows on Chen's balcony?", "Tomatoes, basil", ["D1:3", "D10:5", "D"], 3),  # "D" is dropped
        ("What did Dana think of Lisbon?", "Tiles", ["D10:2"], 5),
        ("What would Chen cook?", "Salad", [], 3),  # no evidence: excluded
        ("When did Chen move?", "March 2022", ["D1:1"], 2),
    ],
}

# What reading the file must report.
EXPECTED_COUNTS = {"repaired": 5, "dropped": 2, "excluded": 2, "scored": 12}


def locomo_data() -> list[dict[str, Any]]:
    """The samples, as LoCoMo's JSON holds them."""
    samples = []
    for sample_id, ((speaker_a, speaker_b), sessions) in _CONVERSATIONS.items():
        conversation: dict[str, Any] = {"speaker_a": speaker_a, "speaker_b": speaker_b}
        for number, date_time, texts in sessions:
            turns = []
            for position, text in enumerate(texts):
                turn: dict[str, Any] = {
                    "speaker": (speaker_a, speaker_b)[position % 2],
                    "dia_id": f"D{number}:{position + 1}",
                    "text": text,
                }
                if "azulejos" in text:
                    turn["blip_caption"] = "a photo of blue and white tiles"
                turns.append(turn)
            conversation[f"session_{number}"] = turns
            conversation[f"session_{number}_date_time"] = date_time
        samples.append(
            {
                "sample_id": sample_id,
                "conversation": conversation,
                "qa": [
                    {
                        "question": question,
                        "adversarial_answer" if category == 5 else "answer": answer,
                        "evidence": evidence,
                        "category": category,
                    }
                    for question, answer, evidence, category in _QA[sample_id]
                ],
                "observation": {"x": []},
            }
        )
    return samples


def write_locomo(path: Path) -> Path:
    """Write the sample file to ``path``; returns it."""
    path.write_text(json.dumps(locomo_data(), indent=1), encoding="utf-8")
    return path
