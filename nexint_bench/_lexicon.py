"""The hand-written lexicon of :mod:`nexint_bench.synthetic`: fact families, value pools and small talk.

A fact family is one kind of personal fact ("the dog I adopted", "the city I live in") with first-person
statements of it, near misses (the same kind of fact about someone else, or about another object),
optional later updates, and questions in two registers: ``literal`` (in the fact's own words) and
``reworded`` (synonyms, hypernyms, paraphrase: written to share no content word with any statement or
update of the family; the generator checks every question it emits against its evidence turns).

Placeholders: ``{slot}`` takes a value from :data:`POOLS` (``{Slot}`` the same value capitalised);
``{ago}`` is a time phrase from :data:`AGO` that dates an event; ``{P}`` is the speaker the question is
about and ``{their}`` that speaker's possessive; in near misses ``{who}``, ``{whose}`` and ``{their}``
name the other person (:data:`RELATIONS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AGO",
    "FAMILIES",
    "GREETINGS",
    "MONTHS",
    "NAMES",
    "POOLS",
    "RELATIONS",
    "SMALL_POOLS",
    "SMALL_TALK",
    "Asks",
    "Family",
]


class Draw(Protocol):
    """The part of the generator's RNG that generated values use."""

    def between(self, low: int, high: int) -> int: ...

    def choice(self, options: tuple[str, ...]) -> str: ...


@dataclass(frozen=True, slots=True)
class Asks:
    """Question templates for one thing to ask: in the fact's own words, and in other words."""

    literal: tuple[str, ...]
    reworded: tuple[str, ...]


def _asks(literal: str, *reworded: str) -> Asks:
    return Asks((literal,), reworded)


@dataclass(frozen=True, slots=True)
class Family:
    """One kind of personal fact and every way the generator states it, changes it and asks about it."""

    name: str
    facts: tuple[str, ...]  # first-person statements
    near: tuple[str, ...]  # near misses: someone else's, or another object's, fact of the same kind
    answer: str
    value: Asks  # what the fact says (category 4, or 2 when ``dated``)
    dated: bool = False  # the value is a date
    when: Asks | None = None  # when the event happened (category 2); the statements carry {ago}
    updates: tuple[str, ...] = ()  # a later statement of a new value
    now: Asks | None = None  # the current value: answered by the update alone (category 4)
    before: Asks | None = None  # the value before the update: needs both turns (category 1)
    both: Asks | None = None  # the family happens twice (two trips): both values (category 1)


NAMES: tuple[tuple[str, str], ...] = (
    ("Alice", "her"), ("Bruno", "his"), ("Chiara", "her"), ("Desmond", "his"), ("Elena", "her"),
    ("Farid", "his"), ("Gwen", "her"), ("Henrik", "his"), ("Ivy", "her"), ("Jasper", "his"),
    ("Keiko", "her"), ("Lorenzo", "his"), ("Maren", "her"), ("Nikolai", "his"), ("Odette", "her"),
    ("Pavel", "his"), ("Quinn", "her"), ("Rafael", "his"), ("Selma", "her"), ("Tobias", "his"),
    ("Ursula", "her"), ("Vikram", "his"), ("Wren", "her"), ("Xavier", "his"), ("Yara", "her"),
    ("Zoltan", "his"), ("Beatrix", "her"), ("Caspian", "his"), ("Delphine", "her"), ("Emeric", "his"),
)  # fmt: skip

# (who, whose, their): the other person of a near miss
RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("my brother", "my brother's", "his"), ("my sister", "my sister's", "her"),
    ("my cousin Marco", "my cousin Marco's", "his"), ("my cousin Lena", "my cousin Lena's", "her"),
    ("my best friend Joel", "my best friend Joel's", "his"), ("my colleague Kate", "my colleague Kate's", "her"),
    ("my boss", "my boss's", "her"), ("my dad", "my dad's", "his"), ("my mum", "my mum's", "her"),
    ("my neighbour Pete", "my neighbour Pete's", "his"), ("my aunt", "my aunt's", "her"),
    ("my uncle", "my uncle's", "his"), ("my old flatmate Rosa", "my old flatmate Rosa's", "her"),
)  # fmt: skip

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# time phrases that date an event: (phrase, days before the session, or the span it names)
AGO: tuple[tuple[str, int | str], ...] = (
    ("yesterday", 1), ("two days ago", 2), ("three days ago", 3), ("this morning", 0),
    ("last weekend", "weekend"), ("last week", "week"), ("last month", "month"),
)  # fmt: skip


def _code(rng: Draw) -> str:
    return f"{rng.between(0, 9999):04d}"


def _plate(rng: Draw) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    pick = "".join(letters[rng.between(0, len(letters) - 1)] for _ in range(5))
    return f"{pick[:2]}{rng.between(10, 99)} {pick[2:]}"


def _number(low: int, high: int) -> Callable[[Draw], str]:
    return lambda rng: str(rng.between(low, high))


def _race_time(rng: Draw) -> str:
    return f"1:{rng.between(38, 59):02d}:{rng.between(0, 59):02d}"


def _clock(rng: Draw) -> str:
    return f"{rng.between(4, 6)}:{rng.choice(('00', '10', '15', '20', '30', '40', '45', '50'))}"


def _appointment(rng: Draw) -> str:
    return f"{rng.between(8, 11)}:{rng.choice(('00', '15', '30', '45'))} am"


Pool = tuple[str, ...] | Callable[[Draw], str]

_TRADES = (
    "nurse", "architect", "accountant", "pharmacist", "carpenter", "translator", "civil engineer", "data analyst",
    "librarian", "paramedic", "graphic designer", "veterinarian", "chef", "electrician", "physiotherapist",
    "journalist", "surveyor", "dental hygienist", "software tester", "florist", "optician", "engineer",
)  # fmt: skip
_MEN = ("Tomas", "Mateo", "Jonas", "Ravi", "Oskar", "Felix", "Viktor", "Hugo", "Anton", "Milo", "Emil", "Idris")
_WOMEN = ("Ingrid", "Priya", "Elif", "Nadia", "Lucia", "Amara", "Sofia", "Leila", "Greta", "Zara", "Noor", "Ines")

POOLS: dict[str, Pool] = {
    "breed": (
        "beagle", "poodle", "dachshund", "border collie", "labrador", "greyhound", "corgi", "whippet",
        "terrier", "spaniel", "husky", "boxer", "pug", "dalmatian", "schnauzer",
    ),
    "pet": (
        "Biscuit", "Pepper", "Mochi", "Juniper", "Pickles", "Waffles", "Olive", "Rusty", "Nimbus", "Clementine",
        "Pretzel", "Noodle", "Cosmo", "Tofu", "Marble", "Sprocket", "Hazel", "Ziggy", "Truffle", "Domino",
        "Poppy", "Bramble", "Kiwi", "Socks", "Fennel",
    ),
    "coat": ("ginger", "black", "grey tabby", "white", "tortoiseshell", "calico", "silver", "cream"),
    "city": (
        "Porto", "Lisbon", "Lyon", "Leeds", "Bologna", "Utrecht", "Ghent", "Krakow", "Valencia", "Seville",
        "Tampere", "Graz", "Bergen", "Aarhus", "Brno", "Dublin", "Galway", "Malmo", "Turin", "Bilbao",
        "Nantes", "Bordeaux", "Hamburg", "Zurich", "Vienna", "Prague", "Tallinn", "Riga", "Cork", "Edinburgh",
    ),
    "country": (
        "Peru", "Japan", "Iceland", "Morocco", "Vietnam", "Chile", "Norway", "Kenya", "Portugal", "Georgia",
        "Mexico", "Jordan", "Greece", "Croatia", "Canada", "Argentina", "Thailand", "Slovenia", "Estonia",
        "New Zealand", "Colombia", "Tunisia", "Albania", "Sri Lanka",
    ),
    "landmark": (
        "old market", "river", "cathedral", "train station", "botanical garden", "harbour", "stadium",
        "university", "main square", "castle", "city park", "opera house",
    ),
    "colour": ("red", "blue", "green", "silver", "black", "white", "yellow", "grey", "navy", "burgundy", "teal"),
    "make": (
        "Toyota", "Volvo", "Skoda", "Fiat", "Renault", "Mazda", "Honda", "Kia", "Peugeot", "Subaru",
        "Volkswagen", "Hyundai", "Citroen", "Ford",
    ),
    "job": tuple(f"{'an' if trade[0] in 'aeiou' else 'a'} {trade}" for trade in _TRADES),
    "trade": _TRADES,
    "company": (
        "Northwind", "Bluepeak", "Harbourline", "Greenfield Labs", "Orbital Freight", "Kestrel Health",
        "Maple & Stone", "Ironbridge", "Silverleaf", "Copperfox", "Lumen Works", "Tidewater",
        "Redwood Analytics", "Brightway", "Falcon Logistics",
    ),
    "mname": _MEN,
    "fname": _WOMEN,
    "rname": tuple(name for pair in zip(_MEN, _WOMEN, strict=True) for name in pair),
    "dish": (
        "mushroom risotto", "green curry", "lamb tagine", "pad thai", "shakshuka", "paella", "ramen",
        "moussaka", "pierogi", "gnocchi", "bibimbap", "falafel wraps", "fish tacos", "goulash", "laksa", "pho",
    ),
    "allergen": (
        "peanuts", "shellfish", "sesame", "kiwi fruit", "penicillin", "bee stings", "latex", "mustard",
        "celery", "hazelnuts",
    ),
    "instrument": (
        "cello", "ukulele", "trumpet", "banjo", "clarinet", "harp", "saxophone", "mandolin", "accordion",
        "bass guitar", "flute", "drums",
    ),
    "sport": (
        "rowing", "fencing", "climbing", "volleyball", "judo", "water polo", "badminton", "lacrosse", "squash",
        "netball", "table tennis", "handball",
    ),
    "language": (
        "Japanese", "Portuguese", "Finnish", "Korean", "Greek", "Turkish", "Polish", "Swahili", "Dutch",
        "Arabic", "Icelandic", "Hungarian", "Italian",
    ),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "month": MONTHS,
    "day": tuple(str(day) for day in range(1, 29)),
    "band": (
        "The Paper Lanterns", "Velvet Static", "Northern Hum", "Glass Harbour", "The Quiet Engines",
        "Moth and Mirror", "Saltwater Choir", "Low Satellites", "The Amber Rooms", "Kite Season",
        "Orchid Radio", "The Slow Tides",
    ),
    "venue": ("Apollo", "Roundhouse", "Corn Exchange", "Old Mill", "Lighthouse", "Palladium", "Riverside Hall"),
    "title": (
        "The Salt Road", "A Map of Small Hours", "Winter Orchard", "The Glass Cartographer", "Nine Bridges",
        "The Last Ferry", "Under Copper Skies", "The Lantern Keeper", "Paper Moons", "A House of Tides",
        "The Clockmaker's Daughter", "Ashes in April",
    ),
    "author": (
        "Mara Quill", "Daniel Okoro", "Hedda Lind", "Tomas Reyes", "Aiko Mori", "Petra Novak", "Samuel Achebe",
        "Lise Marchand", "Owen Gallagher", "Rhea Banerjee",
    ),
    "series": (
        "Harbor Lights", "The Night Shift", "Copper Valley", "Signal Lost", "Northbound", "Small Kingdoms",
        "The Deep End", "Second Chances", "Glasshouse", "The Ninth Floor",
    ),
    "plant": (
        "sunflowers", "tomatoes", "lavender", "runner beans", "strawberries", "dahlias", "rosemary",
        "courgettes", "tulips", "blueberries", "sweet peas",
    ),
    "field": (
        "marine biology", "economics", "art history", "mechanical engineering", "philosophy", "chemistry",
        "linguistics", "architecture", "statistics", "geography", "astrophysics",
    ),
    "ordinal": ("second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
    "km": _number(3, 25),
    "size": ("small", "medium", "large"),
    "drink": ("flat white", "latte", "cortado", "cappuccino", "americano", "mocha", "chai latte", "macchiato"),
    "milk": ("oat", "almond", "soy", "whole", "coconut"),
    "animal": (
        "a fox", "a swallow", "an octopus", "a wolf", "a heron", "a whale", "a tiger", "a moth", "a hummingbird",
        "a stag", "an owl",
    ),
    "bodypart": ("left forearm", "right shoulder", "ankle", "upper back", "wrist", "calf", "ribs"),
    "bone": ("wrist", "collarbone", "ankle", "little finger", "left arm", "elbow", "big toe", "kneecap"),
    "fear": (
        "heights", "deep water", "spiders", "thunderstorms", "tunnels", "clowns", "moths", "crowds", "wasps",
    ),
    "place": (
        "food bank", "animal shelter", "community garden", "library", "hospice", "soup kitchen", "repair cafe",
        "youth centre",
    ),
    "count": _number(3, 9),
    "fish": ("goldfish", "guppies", "neon tetras", "angelfish", "bettas", "mollies", "zebra danios"),
    "film": (
        "The Long Orbit", "Midnight in Ostend", "Seven Paper Cranes", "The Tin Lighthouse", "Rain over Kyoto",
        "The Quiet Heist", "A Summer in Nice", "The Cartographer's War",
    ),
    "resto": (
        "Casa Lupo", "The Blue Ox", "Little Saigon Kitchen", "Olive and Fig", "Hanami", "The Copper Pot",
        "Taverna Nikos", "Bistro Margaux",
    ),
    "street": ("Mill Lane", "Harbour Street", "Elm Road", "Quay Street", "Station Road", "Abbey Walk", "Market Row"),
    "clock": _clock,
    "item": (
        "a kayak", "a piano", "an electric bike", "a telescope", "a sewing machine", "an espresso machine",
        "a camper van", "a road bike", "a drone",
    ),
    "craft": (
        "pottery", "woodworking", "life drawing", "bookbinding", "glassblowing", "jewellery making",
        "calligraphy", "screen printing", "watercolour",
    ),
    "game": ("Catan", "Scrabble", "Carcassonne", "Ticket to Ride", "bridge", "mahjong", "Pandemic", "Azul"),
    "prize": ("first prize", "a trophy", "a gift voucher", "second place", "a silver medal"),
    "contest": (
        "pub quiz", "chilli cook-off", "photo contest", "chess tournament", "bake-off", "poetry slam",
        "karaoke night",
    ),
    "collectible": (
        "vinyl records", "vintage postcards", "fountain pens", "enamel pins", "old maps", "stamps", "snow globes",
        "comic books", "seashells",
    ),
    "pile": _number(40, 400),
    "code": _code,
    "word": ("Pumpkin", "Falcon", "Meadow", "Rocket", "Cobalt", "Pebble", "Thunder", "Willow", "Saffron"),
    "num": _number(10, 999),
    "plate": _plate,
    "age": _number(21, 44),
    "elder": _number(81, 97),
    "racetime": _race_time,
    "slot": _appointment,
    "subject": ("chemistry", "history", "maths", "French", "biology", "music", "geography", "physics"),
}  # fmt: skip


FAMILIES: tuple[Family, ...] = (
    Family(
        "dog",
        facts=(
            "We adopted a {breed} from the shelter {ago} and called him {pet}; he already chewed a slipper.",
            "{Ago} we adopted a {breed} puppy from the rescue and picked {pet} for his name.",
        ),
        near=(
            "{Who} adopted a {breed} called {pet} {ago}, the photos are adorable.",
            "{Who} is fostering a {breed} named {pet} until a family turns up.",
        ),
        answer="a {breed} called {pet}",
        value=_asks("What breed is the dog {P} adopted?", "Which canine breed lives with {P}?",
                    "What sort of pooch does {P} look after?"),
        when=_asks("When did {P} adopt the {breed}?", "When did {P}'s canine companion arrive?",
                   "When did {P} welcome a pooch into the household?"),
    ),
    Family(
        "cat",
        facts=(
            "My cat {pet} is a {coat} rescue who sleeps on my keyboard every single afternoon.",
            "{Pet}, my {coat} cat, knocked a mug off the table again and looked proud of it.",
        ),
        near=(
            "{Who} has a {coat} cat called {pet} that only eats from one particular bowl.",
            "{Whose} {coat} cat {pet} climbed onto the roof and needed rescuing.",
        ),
        answer="{pet}, a {coat} cat",
        value=_asks("What is the name of {P}'s cat?", "What is {P}'s feline called?",
                    "Which kitty shares {P}'s household, and what colour is its fur?"),
    ),
    Family(
        "car",
        facts=(
            "I finally bought a car, a {colour} {make}, second-hand but it runs like a dream.",
            "My {colour} {make} passed its inspection, so the car is good for another year.",
        ),
        near=(
            "{Who} just bought a {colour} {make} and keeps asking me to wash it.",
            "{Whose} car is a {colour} {make}, parked outside our building most days.",
        ),
        answer="a {colour} {make}",
        value=_asks("What car does {P} have?", "What vehicle does {P} own?",
                    "Which automobile does {P} get around in?"),
        updates=(
            "I sold the old car and got a {colour} {make} instead, much better on fuel.",
            "Traded in my car on the weekend; I'm driving a {colour} {make} now.",
        ),
        now=_asks("What car does {P} drive now?", "Which automobile does {P} currently own?",
                  "What vehicle belongs to {P} at present?"),
        before=_asks("What car did {P} have before the current one?", "Which vehicle belonged to {P} previously?",
                     "What automobile did {P} own earlier?"),
    ),
    Family(
        "home",
        facts=(
            "We live in {city} now, in a small flat right next to the {landmark}.",
            "We live in a tiny place in {city}, but the {landmark} is a five-minute walk away.",
        ),
        near=(
            "{Who} lives in {city}, just around the corner from the {landmark}.",
            "{Who} rents a room in {city}, close to the {landmark}.",
        ),
        answer="{city}",
        value=_asks("Where does {P} live?", "Which town is {P} based in?", "In what urban area does {P} reside?"),
        updates=(
            "Big news: we moved again, and we're settled in {city} near the {landmark} now.",
            "We packed up and moved to {city}; the new flat is close to the {landmark}.",
        ),
        now=_asks("Where did {P} move to most recently?", "In which town does {P} reside at present?",
                  "Which urban area is {P} based in currently?"),
        before=_asks("Where did {P} live before moving?", "Which town was {P}'s base prior to relocating?",
                     "Where did {P} reside previously?"),
    ),
    Family(
        "job",
        facts=(
            "I work as {job} at {company}, mostly early shifts this year.",
            "My work at {company} keeps me busy; being {job} is never boring.",
        ),
        near=(
            "{Who} works as {job} at {company} and loves it.",
            "{Who} just got hired as {job} at {company}.",
        ),
        answer="{job} at {company}",
        value=_asks("Where does {P} work, and as what?", "What is {P}'s occupation?", "How does {P} earn a living?"),
        updates=(
            "I changed jobs! I started as {job} at {company} this month.",
            "Fresh start, new job: I'm {job} at {company} since Monday, badge and everything.",
        ),
        now=_asks("What job does {P} have now?", "What is {P}'s present occupation?",
                  "Who employs {P} currently, and in what role?"),
        before=_asks("What did {P} work as before changing jobs?", "What was {P}'s previous occupation?",
                     "Which employer did {P} leave?"),
    ),
    Family(
        "bike lock",
        facts=(
            "The code for my bike lock is {code}, I keep forgetting it so now you know too.",
            "Writing this down somewhere safe: {code} is what my bike lock needs.",
        ),
        near=(
            "The code for my gym locker is {code}, not to be confused with anything else.",
            "{Who} set {their} bike lock to {code}, which is a terrible idea.",
        ),
        answer="{code}",
        value=_asks("What is the code for {P}'s bike lock?", "Which digits open {P}'s cycle padlock?",
                    "What combination secures {P}'s bicycle?"),
    ),
    Family(
        "wifi",
        facts=(
            "Our wifi password is {word}{num}; the kids picked it, don't ask.",
            "If you come over, the wifi password is {word}{num}, capital first letter.",
        ),
        near=(
            "{Whose} wifi password is {word}{num}, written on a sticky note on the fridge.",
            "The wifi at my office uses {word}{num} as its password, very secure.",
        ),
        answer="{word}{num}",
        value=_asks("What is {P}'s wifi password?", "What secret phrase gets a device onto {P}'s wireless network?",
                    "Which key unlocks {P}'s wireless internet?"),
        updates=(
            "We changed the wifi password to {word}{num} after the neighbours kept using it.",
            "Heads up, the wifi password is {word}{num} now; the old one was compromised.",
        ),
        now=_asks("What is {P}'s wifi password now?", "What is the current key for {P}'s wireless internet?",
                  "Which secret phrase gets a device onto {P}'s wireless network at present?"),
        before=_asks("What was {P}'s wifi password before the change?",
                     "What was the previous key for {P}'s wireless internet?",
                     "Which secret phrase did {P}'s wireless network accept previously?"),
    ),
    Family(
        "birthday",
        facts=(
            "My birthday is on {day} {month}, and I'm thinking of a small dinner party.",
            "Mark {day} {month} in your calendar, it's my birthday and there will be cake.",
        ),
        near=(
            "{Whose} birthday is {day} {month}, I need to find a gift soon.",
            "{Who} celebrates {their} birthday on {day} {month} every year with a picnic.",
        ),
        answer="{day} {month}",
        value=_asks("When is {P}'s birthday?", "On what date was {P} born?",
                    "What date does {P} turn a year older?"),
        dated=True,
    ),
    Family(
        "anniversary",
        facts=(
            "Our wedding anniversary is {day} {month}; {rname} always books the same restaurant.",
            "{Rname} and I celebrate our wedding anniversary on {day} {month}, twelve years soon.",
        ),
        near=(
            "{Who} got married on {day} {month}, so I always send flowers.",
            "{Whose} wedding anniversary is {day} {month}, they're throwing a party.",
        ),
        answer="{day} {month}",
        value=_asks("When is {P}'s wedding anniversary?", "On what date did {P} tie the knot?",
                    "What date did {P} get married?"),
        dated=True,
    ),
    Family(
        "brother",
        facts=(
            "My younger brother {mname} just turned {age} and still thinks he's a teenager.",
            "{Mname}, my younger brother, is {age} now and finally learning to cook.",
        ),
        near=(
            "My colleague's younger brother {mname} just turned {age} as well.",
            "My cousin {mname} turned {age} and threw a huge party.",
        ),
        answer="{mname}, who is {age}",
        value=_asks("What is the name of {P}'s younger brother?", "What is {P}'s male sibling called?",
                    "Who is {P}'s little bro, and how old?"),
    ),
    Family(
        "sister",
        facts=(
            "My sister {fname} is {job} in {city}; we talk on the phone every Sunday.",
            "{Fname}, my sister, works as {job} over in {city} and visits when she can.",
        ),
        near=(
            "My flatmate's sister {fname} is {job} in {city}.",
            "My friend {fname} is {job} in {city}, we met at school.",
        ),
        answer="{fname}, {job} in {city}",
        value=_asks("What does {P}'s sister do?", "What is the occupation of {P}'s female sibling?",
                    "How does {P}'s female sibling earn a living?"),
    ),
    Family(
        "partner",
        facts=(
            "My partner {rname} teaches {subject} at the local high school and grades papers all weekend.",
            "{Rname}, my partner, teaches {subject} to teenagers, which takes a lot of patience.",
        ),
        near=(
            "{Who} teaches {subject} at a high school across town.",
            "{Whose} partner teaches {subject} at a school near the station.",
        ),
        answer="{subject} ({rname})",
        value=_asks("What does {P}'s partner teach?", "Which discipline does {P}'s significant other cover in class?",
                    "What subject is {P}'s spouse an instructor of?"),
    ),
    Family(
        "grandmother",
        facts=(
            "My grandmother {fname} turns {elder} in {month} and still walks to the market daily.",
            "Grandma {fname} will be {elder} this {month}, sharper than all of us.",
        ),
        near=(
            "{Whose} landlady turns {elder} in {month}, they're planning a big lunch.",
            "Our neighbour {fname} turns {elder} in {month}, the whole street is invited.",
        ),
        answer="{elder} (her name is {fname})",
        value=_asks("How old will {P}'s grandmother {fname} be?", "What age is {P}'s nan reaching?",
                    "How old is {P}'s granny going to be soon?"),
    ),
    Family(
        "dish",
        facts=(
            "My absolute favourite dish is {dish}; I could eat it every single week.",
            "Nothing beats {dish} for me, it's my favourite dish by far.",
        ),
        near=(
            "{Whose} favourite dish is {dish}, so that's what we cook when they visit.",
            "{Who} orders {dish} every time we go out, no exceptions.",
        ),
        answer="{dish}",
        value=_asks("What is {P}'s favourite dish?", "Which meal does {P} love most?",
                    "What food does {P} enjoy above all others?"),
        updates=(
            "I've got a new favourite dish: {dish}, I'm obsessed lately.",
            "Change of heart, my favourite dish these days is {dish}.",
        ),
        now=_asks("What is {P}'s favourite dish now?", "Which meal does {P} currently love most?",
                  "What food does {P} enjoy above all others at present?"),
        before=_asks("What was {P}'s favourite dish before?", "Which meal did {P} love most previously?",
                     "What food did {P} enjoy above all others earlier?"),
    ),
    Family(
        "allergy",
        facts=(
            "I'm allergic to {allergen}, so I always check the label twice.",
            "Turns out I'm allergic to {allergen}; the doctor confirmed it with a test.",
        ),
        near=(
            "{Who} is allergic to {allergen}, so we keep the kitchen clear of it.",
            "{Who} found out {their} allergy is to {allergen}.",
        ),
        answer="{allergen}",
        value=_asks("What is {P} allergic to?", "What triggers a bad reaction for {P}?",
                    "What must {P} avoid for medical reasons?"),
    ),
    Family(
        "instrument",
        facts=(
            "I started learning the {instrument} {ago}, and my neighbours are being very patient.",
            "{Ago} I had my first {instrument} lesson; learning it makes my fingers sore but I love it.",
        ),
        near=(
            "{Who} plays the {instrument} in a local orchestra.",
            "{Who} sold {their} {instrument} to pay for a holiday.",
        ),
        answer="the {instrument}",
        value=_asks("What instrument is {P} learning?", "Which musical hobby has {P} picked up?",
                    "What does {P} practise musically lately?"),
        when=_asks("When did {P} start learning the {instrument}?", "When did {P} take up music?",
                   "When did {P} begin studying music?"),
    ),
    Family(
        "sport",
        facts=(
            "I joined a {sport} club that trains on {weekday} evenings by the river.",
            "Every {weekday} evening I'm at {sport} practice now, it's a great workout.",
        ),
        near=(
            "{Who} joined a {sport} team that meets on {weekday} nights.",
            "{Who} coaches {sport} for kids on {weekday} evenings.",
        ),
        answer="{sport}",
        value=_asks("What sport does {P} do on {weekday} evenings?", "Which athletic activity does {P} take part in?",
                    "What physical pastime has {P} signed up for?"),
        updates=(
            "New sport for me: {sport}, {weekday} evenings, I quit my old club.",
            "Switched sports: I've started {sport}, training every {weekday}.",
        ),
        now=_asks("What sport does {P} do now?", "Which athletic activity does {P} currently take part in?",
                  "What physical pastime is {P} into at present?"),
        before=_asks("What sport did {P} do on {weekday} evenings before switching?",
                     "Which athletic activity did {P} give up?", "What physical pastime was {P} into previously?"),
    ),
    Family(
        "language",
        facts=(
            "I'm taking {language} lessons online three times a week, the grammar is brutal.",
            "My {language} lessons are going well, I can order food and ask for directions.",
        ),
        near=(
            "{Who} is learning {language} for a job abroad.",
            "{Who} speaks fluent {language}, which is handy when we travel.",
        ),
        answer="{language}",
        value=_asks("Which language is {P} taking lessons in?", "Which foreign tongue is {P} studying?",
                    "What is {P} trying to become fluent in?"),
    ),
    Family(
        "trip",
        facts=(
            "We got back from our trip to {country} {ago}; the food was incredible and the hikes were long.",
            "{Ago} I landed home after a ten-day trip to {country}, and I'm still jet-lagged.",
        ),
        near=(
            "{Who} flew to {country} for a conference and sent me postcards.",
            "{Who} is planning a trip to {country} later this year.",
        ),
        answer="{country}",
        value=_asks("Where did {P} go on {their} trip?", "Which nation did {P} holiday in?",
                    "What foreign destination did {P} go to?"),
        when=_asks("When did {P} get back from {country}?", "When did {P} return from holidaying abroad?",
                   "When was {P}'s vacation overseas over?"),
        both=_asks("Where did {P} go on {their} trips?", "Which foreign destinations did {P} go to?",
                   "Which nations did {P} holiday in?"),
    ),
    Family(
        "concert",
        facts=(
            "I went to see {band} play at the {venue} {ago}; my ears are still ringing.",
            "{Ago} I went to see {band} at the {venue}, best show in years.",
        ),
        near=(
            "{Who} saw {band} at the {venue} and won't stop talking about it.",
            "{Who} has tickets for {band} at the {venue} next month.",
        ),
        answer="{band}",
        value=_asks("Which band did {P} see at the {venue}?", "Which musical act did {P} catch in concert?",
                    "What group performed at the gig {P} attended?"),
        when=_asks("When did {P} see {band}?", "When did {P} attend that gig?",
                   "When was the concert {P} attended?"),
        both=_asks("Which bands did {P} see live?", "Which musical acts did {P} catch in concert?",
                   "What groups performed at the gigs {P} attended?"),
    ),
    Family(
        "half marathon",
        facts=(
            "I ran the {city} half marathon {ago} and finished in {racetime}, my legs are jelly.",
            "{Ago} I did the {city} half marathon: {racetime}, a personal best!",
        ),
        near=(
            "{Who} ran the {city} half marathon in {racetime}, way faster than me.",
            "{Who} signed up for the {city} half marathon and has been training hard.",
        ),
        answer="{racetime}",
        value=_asks("What was {P}'s time in the {city} half marathon?", "How quickly did {P} complete the road race?",
                    "How long did the road race take {P}?"),
        when=_asks("When did {P} run the half marathon?", "When did {P} take part in the road race?",
                   "When was the road race {P} entered?"),
    ),
    Family(
        "book",
        facts=(
            "I'm halfway through the book '{title}' by {author}, I can't put it down.",
            "Reading '{title}' by {author} at the moment; the ending of each chapter kills me.",
        ),
        near=(
            "{Who} recommended '{title}' by {author}, but I haven't started it.",
            "{Who} is in a book club that picked '{title}' by {author}.",
        ),
        answer="'{title}' by {author}",
        value=_asks("What book is {P} reading?", "Which novel is {P} engrossed in?",
                    "What story sits on {P}'s nightstand?"),
        updates=(
            "Finished that one; now I'm reading '{title}' by {author}.",
            "New book on the go: '{title}' by {author}, started it on the bus.",
        ),
        now=_asks("What book is {P} reading now?", "Which novel is {P} currently engrossed in?",
                  "What story sits on {P}'s nightstand at present?"),
        before=_asks("What book did {P} read before the current one?", "Which novel had {P} engrossed earlier?",
                     "What story sat on {P}'s nightstand previously?"),
    ),
    Family(
        "series",
        facts=(
            "I'm hooked on a series called {series}, I watched four episodes in a row.",
            "Have you seen {series}? I started the series and now I can't stop watching.",
        ),
        near=(
            "{Who} keeps telling me to watch {series} but I'm not sold yet.",
            "{Who} says the new season of {series} is disappointing.",
        ),
        answer="{series}",
        value=_asks("What series is {P} hooked on?", "Which programme is {P} binge-viewing?",
                    "What show has {P} glued to the screen?"),
        updates=(
            "Finished that series, my new obsession is {series}.",
            "I've moved on to a new series, {series}, two seasons in already.",
        ),
        now=_asks("What series is {P} hooked on now?", "Which programme is {P} currently binge-viewing?",
                  "What show has {P} glued to the screen at present?"),
        before=_asks("What series was {P} hooked on before?", "Which programme did {P} binge-view earlier?",
                     "What show had {P} glued to the screen previously?"),
    ),
    Family(
        "garden",
        facts=(
            "I planted {plant} along the back fence {ago}, fingers crossed they survive.",
            "{Ago} I put {plant} in the ground by the fence, now it's up to the weather.",
        ),
        near=(
            "{Who} planted {plant} on {their} balcony and they're thriving.",
            "{Who} grows {plant} on an allotment near the station.",
        ),
        answer="{plant}",
        value=_asks("What did {P} plant along the fence?", "What is growing in {P}'s yard?",
                    "Which crop did {P} sow outdoors?"),
        when=_asks("When did {P} plant the {plant}?", "When did {P} do that gardening?",
                   "When did {P} sow something in the yard?"),
        both=_asks("What has {P} planted along the fence?", "What is growing in {P}'s yard?",
                   "Which crops did {P} sow outdoors?"),
    ),
    Family(
        "hometown",
        facts=(
            "I grew up in {city}, right by the {landmark}, and I still miss it.",
            "Back in {city}, where I grew up, we used to swim near the {landmark}.",
        ),
        near=(
            "{Who} grew up in {city}, by the {landmark}.",
            "{Who} was born in {city} but left as a toddler.",
        ),
        answer="{city}",
        value=_asks("Where did {P} grow up, near the {landmark}?", "Where did {P} spend childhood?",
                    "Which town was {P} raised in?"),
    ),
    Family(
        "degree",
        facts=(
            "I studied {field} at university in {city}, a lifetime ago.",
            "My degree is in {field}; I did it at the university in {city}.",
        ),
        near=(
            "{Who} has a degree in {field} from a college in {city}.",
            "{Who} is studying {field} part-time in {city}.",
        ),
        answer="{field}",
        value=_asks("What did {P} study at university?", "What was {P}'s major in college?",
                    "Which academic discipline did {P} pursue?"),
    ),
    Family(
        "floor",
        facts=(
            "Our flat is on the {ordinal} floor and there's no lift, so I'm fit by default.",
            "Carrying shopping up to the {ordinal} floor is my workout, our building has no lift.",
        ),
        near=(
            "{Who} lives on the {ordinal} floor of a building with a broken lift.",
            "My office is on the {ordinal} floor, with a view of the car park.",
        ),
        answer="the {ordinal} floor",
        value=_asks("What floor is {P}'s flat on?", "How many storeys up is {P}'s apartment?",
                    "At what level is {P}'s apartment?"),
    ),
    Family(
        "commute",
        facts=(
            "I cycle {km} kilometres to work every day along the canal path.",
            "My commute is {km} kilometres on the bike, rain or shine.",
        ),
        near=(
            "{Who} drives {km} kilometres to the office each way.",
            "{Who} walks {km} kilometres to work, which seems excessive.",
        ),
        answer="{km} kilometres",
        value=_asks("How long is {P}'s commute to work?", "What distance is {P}'s ride to the office?",
                    "How long is {P}'s journey by pedal power?"),
    ),
    Family(
        "coffee",
        facts=(
            "My usual coffee order is a {size} {drink} with {milk} milk, no sugar.",
            "The barista knows my usual: {size} {drink}, {milk} milk, every morning.",
        ),
        near=(
            "{Who} always orders a {size} {drink} with {milk} milk.",
            "{Whose} coffee order is a {size} {drink} with {milk} milk, so fussy.",
        ),
        answer="a {size} {drink} with {milk} milk",
        value=_asks("What is {P}'s usual coffee order?", "What does {P} typically get at the café?",
                    "Which hot beverage does {P} buy regularly?"),
        updates=(
            "I switched my usual to a {size} {drink} with {milk} milk this month.",
            "New habit: a {size} {drink} with {milk} milk instead of my old coffee.",
        ),
        now=_asks("What is {P}'s usual coffee order now?", "Which hot beverage does {P} currently buy?",
                  "What does {P} typically get at the café at present?"),
        before=_asks("What was {P}'s usual coffee order before the switch?",
                     "Which hot beverage did {P} buy previously?", "What did {P} typically get at the café earlier?"),
    ),
    Family(
        "tattoo",
        facts=(
            "I got a tattoo of {animal} on my {bodypart} {ago}, and it healed nicely.",
            "{Ago} I finally got the tattoo I wanted, {animal} on the {bodypart}, three hours in the chair.",
        ),
        near=(
            "{Who} got a tattoo of {animal} on {their} {bodypart}.",
            "{Who} wants a tattoo of {animal} but is scared of needles.",
        ),
        answer="{animal} on the {bodypart}",
        value=_asks("What tattoo did {P} get?", "What ink design does {P} have?",
                    "Which creature is inked on {P}'s skin?"),
        when=_asks("When did {P} get the tattoo?", "When did {P} get inked?",
                   "When was {P}'s skin inked?"),
        both=_asks("What tattoos has {P} got?", "Which ink designs does {P} have?",
                   "Which creatures are inked on {P}'s skin?"),
    ),
    Family(
        "injury",
        facts=(
            "I broke my {bone} {ago} falling off a ladder, so typing is slow.",
            "{Ago} I had a fall on the stairs and broke my {bone}, now it's in a cast.",
        ),
        near=(
            "{Who} broke {their} {bone} skiing.",
            "{Who} sprained {their} {bone} playing football.",
        ),
        answer="{their} {bone}",
        value=_asks("What did {P} break in a fall?", "Which bone did {P} fracture?",
                    "What part of the body did {P} injure?"),
        when=_asks("When did {P} break {their} {bone}?", "When did {P} suffer the fracture?",
                   "When was {P} injured?"),
        both=_asks("What has {P} broken in falls?", "Which fractures has {P} suffered?",
                   "What parts of the body has {P} injured?"),
    ),
    Family(
        "niece",
        facts=(
            "My sister had a baby girl {ago}; they named her {fname}, and she's tiny.",
            "{Ago} my brother and his wife welcomed a baby girl, {fname}, so tiny.",
        ),
        near=(
            "A colleague of mine had a baby boy named {mname}.",
            "My best friend is expecting a girl and wants to call her {fname}.",
        ),
        answer="{fname}",
        value=_asks("What is the name of {P}'s new baby niece?", "What is {P}'s newborn niece called?",
                    "What is the newest addition to {P}'s family called?"),
        when=_asks("When was {P}'s niece {fname} born?", "When was {P}'s niece born?",
                   "When did {P}'s niece arrive in the world?"),
    ),
    Family(
        "fear",
        facts=(
            "I'm terrified of {fear}, always have been, even as a kid.",
            "Honestly {fear} scare me more than anything, I'm terrified and freeze up completely.",
        ),
        near=(
            "{Who} is scared of {fear}, which makes camping interesting.",
            "{Who} has a thing about {fear}, won't go near them.",
        ),
        answer="{fear}",
        value=_asks("What is {P} terrified of?", "What frightens {P} the most?", "What is {P}'s biggest phobia?"),
    ),
    Family(
        "volunteer",
        facts=(
            "I volunteer at the {place} every {weekday} morning before work.",
            "{Weekday} mornings I volunteer at the {place}; unpaid, but it's the best part of my week.",
        ),
        near=(
            "{Who} volunteers at the {place} on weekends.",
            "{Who} runs the {place} on {weekday}s.",
        ),
        answer="the {place}",
        value=_asks("Where does {P} volunteer?", "Which charity does {P} give time to?",
                    "Where does {P} donate labour for free?"),
    ),
    Family(
        "aquarium",
        facts=(
            "We keep {count} {fish} in a tank in the living room, the kids feed them.",
            "Our tank has {count} {fish} now, I clean it every Sunday.",
        ),
        near=(
            "{Who} has {count} {fish} in a bowl on the kitchen counter.",
            "{Who} wants {fish} but keeps forgetting to buy a tank.",
        ),
        answer="{count} {fish}",
        value=_asks("What fish does {P} have in the tank?", "What aquatic pets does {P} have?",
                    "Which swimming creatures does {P} own?"),
    ),
    Family(
        "film",
        facts=(
            "My all-time favourite movie is {film}; I've seen it at least a dozen times.",
            "{Film} is my favourite movie ever, I know every line.",
        ),
        near=(
            "{Whose} favourite movie is {film}, they quote it constantly.",
            "{Who} fell asleep during {film}, unforgivable.",
        ),
        answer="{film}",
        value=_asks("What is {P}'s favourite movie?", "Which film does {P} rate above all others?",
                    "What picture does {P} never tire of watching?"),
    ),
    Family(
        "restaurant",
        facts=(
            "Our go-to restaurant is {resto} on {street}; their {dish} is perfect.",
            "Our favourite restaurant is {resto} on {street}, the {dish} there is worth it.",
        ),
        near=(
            "{Who} swears by {resto} on {street}, but I've never been.",
            "{Who} had a bad meal at {resto} on {street}.",
        ),
        answer="{resto} on {street}",
        value=_asks("What is {P}'s go-to restaurant?", "Where does {P} usually dine out?",
                    "Which eatery does {P} frequent?"),
    ),
    Family(
        "wake-up",
        facts=(
            "I wake up at {clock} every day to meditate before anyone else is up.",
            "My alarm goes off at {clock}, and I love the quiet before the house wakes.",
        ),
        near=(
            "{Who} wakes up at {clock} to run, which is madness.",
            "{Whose} alarm goes off at {clock} and it wakes the whole building.",
        ),
        answer="{clock}",
        value=_asks("What time does {P} wake up?", "At what hour does {P} rise?",
                    "How early does {P} get out of bed?"),
    ),
    Family(
        "saving",
        facts=(
            "I'm saving up for {item}, I should have enough by {month}.",
            "Every spare coin I'm saving goes toward {item}; by {month} it should be mine.",
        ),
        near=(
            "{Who} is saving for {item} too.",
            "{Who} just bought {item} and regrets it.",
        ),
        answer="{item}",
        value=_asks("What is {P} saving up for?", "What big purchase is {P} putting money aside for?",
                    "Which purchase is {P} budgeting for?"),
    ),
    Family(
        "bathroom",
        facts=(
            "We painted the bathroom {colour} {ago}; it looks twice as big now.",
            "{Ago} we gave the bathroom a fresh coat of {colour}, and I'm thrilled.",
        ),
        near=(
            "{Who} painted {their} bathroom {colour} and hates it.",
            "We painted the hallway {colour} last year, it still smells of paint.",
        ),
        answer="{colour}",
        value=_asks("What colour did {P} paint the bathroom?", "Which hue covers the walls of {P}'s washroom?",
                    "What shade did {P} choose for the washroom walls?"),
        when=_asks("When did {P} paint the bathroom?", "When did {P} redecorate the washroom?",
                   "When was {P}'s washroom redone?"),
    ),
    Family(
        "class",
        facts=(
            "I signed up for a {craft} class on {weekday} nights at the community centre.",
            "{Weekday} nights are for my {craft} class now, at the community centre.",
        ),
        near=(
            "{Who} takes a {craft} class at the same community centre.",
            "{Who} teaches {craft} at an evening school.",
        ),
        answer="{craft}",
        value=_asks("What class did {P} sign up for?", "Which workshop did {P} enrol in?",
                    "What hands-on course is {P} attending?"),
        both=_asks("Which classes has {P} signed up for?", "Which workshops has {P} enrolled in?",
                   "What hands-on courses is {P} attending?"),
    ),
    Family(
        "dentist",
        facts=(
            "My dentist appointment is on {day} {month} at {slot}, please remind me.",
            "Booked the dentist for {day} {month}, {slot}, dreading it already.",
        ),
        near=(
            "{Who} has a dentist appointment on {day} {month}.",
            "{Whose} dentist appointment got moved to {day} {month}.",
        ),
        answer="{day} {month} at {slot}",
        value=_asks("When is {P}'s dentist appointment?", "On what date is {P} seeing the tooth doctor?",
                    "When is {P}'s next dental check-up?"),
        dated=True,
    ),
    Family(
        "flight",
        facts=(
            "I booked flights to {city} for {day} {month}, window seats both ways.",
            "The tickets are bought: {city} on {day} {month}, leaving at dawn.",
        ),
        near=(
            "{Who} is flying to {city} on {day} {month}.",
            "{Who} booked a flight to {city} for {day} {month} and then lost the passport.",
        ),
        answer="{day} {month}",
        value=_asks("When is {P}'s flight to {city}?", "On what date does {P} fly out?",
                    "When does {P} depart by plane?"),
        dated=True,
    ),
    Family(
        "licence plate",
        facts=(
            "My licence plate is {plate}, easy to remember because of the letters.",
            "The plate on my car reads {plate}, I made up a silly rhyme for it.",
        ),
        near=(
            "{Whose} licence plate is {plate}, one letter off from a famous one.",
            "The van next door has the plate {plate}, it's always blocking the drive.",
        ),
        answer="{plate}",
        value=_asks("What is {P}'s licence plate?", "What registration number is on {P}'s vehicle?",
                    "Which registration identifies {P}'s automobile?"),
    ),
    Family(
        "neighbour",
        facts=(
            "Our new neighbour {rname} is a retired {trade} who bakes bread for the whole street.",
            "The retired {trade} who moved in upstairs, our neighbour {rname}, is a lovely soul.",
        ),
        near=(
            "{Whose} neighbour {rname} is a retired {trade} as well.",
            "{Who} hired a retired {trade} named {rname} to help out.",
        ),
        answer="{rname}, a retired {trade}",
        value=_asks("Who is {P}'s new neighbour?", "Who settled next door to {P} recently?",
                    "What did the person next door to {P} do for a career?"),
    ),
    Family(
        "board game",
        facts=(
            "Every Friday we play {game} with friends until midnight.",
            "Friday is {game} night at our place, and I lose every single time.",
        ),
        near=(
            "{Who} hosts {game} nights on Fridays.",
            "{Who} got banned from {game} at family gatherings for cheating.",
        ),
        answer="{game}",
        value=_asks("What game does {P} play on Fridays?", "Which tabletop pastime does {P} enjoy regularly?",
                    "Which board or card pastime is a fixture in {P}'s routine?"),
    ),
    Family(
        "win",
        facts=(
            "I entered the {contest} {ago} and won {prize}, totally unexpected.",
            "{Ago} I entered the {contest} and won {prize}, I'm still grinning.",
        ),
        near=(
            "{Who} won {prize} at the {contest}.",
            "{Who} entered the {contest} and came last, bless.",
        ),
        answer="{prize} at the {contest}",
        value=_asks("What did {P} win at the {contest}?", "Which competition did {P} triumph in?",
                    "What was {P} awarded, and for what?"),
        when=_asks("When did {P} win at the {contest}?", "When was {P} awarded that honour?",
                   "When did {P} triumph in that competition?"),
        both=_asks("Which contests has {P} entered and won?", "Which competitions did {P} triumph in?",
                   "What honours has {P} been awarded?"),
    ),
    Family(
        "collection",
        facts=(
            "I collect {collectible} and have about {pile} of them now.",
            "I collect {collectible}; the collection is up to {pile}, the shelves are full.",
        ),
        near=(
            "{Who} collects {collectible} too.",
            "{Who} sold an entire collection of {collectible} online.",
        ),
        answer="{collectible} (about {pile})",
        value=_asks("What does {P} collect?", "What does {P} hoard as a hobby?",
                    "What items has {P} amassed over the years?"),
    ),
)  # fmt: skip


GREETINGS: tuple[str, ...] = (
    "Hey {name}! {greet}",
    "Hi {name}, {greet_lower}",
    "{name}! Good to hear from you. {greet}",
    "Morning {name}! {greet}",
    "Evening {name}, {greet_lower}",
    "Hello {name}! {greet}",
)

SMALL_TALK: tuple[str, ...] = (
    "The weather has been {weather} all {span}, so I mostly stayed in with {comfort}.",
    "Did you see the {match} on {weekday}? That {moment} near the end was unreal.",
    "I tried a new recipe for {bake} and it came out {outcome}, next time more {spice}.",
    "Work has been {workstate} lately; {workthing} ate my whole {weekday}.",
    "Honestly I just need a quiet {span} with {comfort} and no emails.",
    "Have you heard the new {genre} album everyone is talking about? I'm {opinion} so far.",
    "The {shop} down the road finally reopened, and the queue was {queue}.",
    "I spent the evening {chore} and somehow it took {duration}.",
    "That sounds {react}! {followup}",
    "Ha, I know exactly what you mean about {gripe}; it drives me {crazy}.",
    "My phone {phone} again, so sorry if I missed your message {recent}.",
    "I watched a documentary about {doc} and now I can't stop reading about it.",
    "We should grab {meal} at some point, maybe after {milestone}?",
    "The trains were {late} again {recent}; I ended up walking {stretch}.",
    "I'm trying to drink more water and sleep before {hour}, wish me luck.",
    "Not much new here, just {chore} and catching up on {media}.",
    "I finally cleaned out the {room} and found {found} I forgot I had.",
    "The {season} light in the evenings makes everything feel {feel}.",
    "Someone at the {shop} told me {rumour}, no idea if it's true.",
    "I burnt the {bake} {recent} because I got distracted by {distraction}.",
    "Do you have any {media} recommendations? I've run out of things to {consume}.",
    "Thanks for asking, {name}! It's been {react}, honestly.",
    "I keep meaning to {intent}, but {excuse} every time.",
    "There was a {commotion} outside my window {recent}, very loud.",
    "I'm so {mood} today, {reason}.",
    "You always give the best advice, {name}; I'll think about it {soon}.",
    "Fair point. I think {fad} is overrated anyway.",
    "The {appliance} is making a weird noise again, I'm ignoring it for now.",
    "I read somewhere that {trivia}; the world is strange.",
    "Oh no, that sounds {bad}. {sympathy}",
    "Let's catch up properly {soon}, I want to hear everything.",
    "I'm trying out a {app} app to stay organised, {verdict}.",
    "Someone left {odd} on the bus {recent} and nobody claimed it.",
    "A {noise} woke me up at {hour} {recent}, so I'm running on fumes.",
    "I can't believe it's nearly {month}; this year is flying by.",
    "We had {guests} over for dinner {recent} and talked until {hour}.",
    "I signed a petition about {cause}, hope it makes a difference.",
    "The supermarket was out of {grocery} again, third time this {span}.",
    "I'm planning to {plan} {soon} if the weather holds.",
    "So true, {name}. {agree}",
    "Wait, really? {surprise}",
    "I made a playlist of {genre} songs for rainy days, want me to send it?",
    "The {appliance} finally died {recent}, so it's takeaway for a while.",
    "My to-do list has {chore} on it for the {ordinal_small} week running.",
    "Random question: {question}",
)

_GREET = (
    "How has your {span} been?", "Long time no talk, what have you been up to?",
    "Hope the {span} is treating you well.", "I was just thinking about you, how are things?",
    "Sorry for the silence, it's been a {workstate} {span}.", "What's new on your side?",
)  # fmt: skip

SMALL_POOLS: dict[str, tuple[str, ...]] = {
    "greet": _GREET,
    "greet_lower": tuple(text[0].lower() + text[1:] for text in _GREET),
    "weather": ("grey and drizzly", "weirdly warm", "freezing", "so windy", "muggy", "bright but cold", "stormy",
                "foggy"),
    "span": ("week", "weekend", "month", "fortnight", "few days"),
    "comfort": ("a pot of tea", "soup", "a blanket and a film", "a jigsaw puzzle", "a good podcast", "cocoa",
                "a crossword"),
    "match": ("derby", "cup final", "tennis semi-final", "rugby match", "cricket final", "grand prix",
              "basketball game"),
    "moment": ("penalty", "comeback", "last-minute goal", "tie-break", "overtake", "buzzer-beater", "red card"),
    "bake": ("banana bread", "lentil soup", "sourdough", "lasagne", "stir fry", "chocolate cake", "flatbread",
             "chickpea stew", "apple crumble", "frittata"),
    "outcome": ("surprisingly good", "a bit dry", "way too salty", "perfect", "kind of flat",
                "better than expected"),
    "spice": ("garlic", "lemon", "chilli", "salt", "butter", "thyme", "cinnamon", "paprika"),
    "workstate": ("hectic", "a slog", "chaotic", "oddly quiet", "nonstop", "a bit much"),
    "workthing": ("a surprise audit", "back-to-back meetings", "a printer jam saga", "the quarterly report",
                  "an all-hands call", "compliance training", "a server outage"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "genre": ("jazz", "indie", "folk", "electronic", "hip hop", "country", "synth-pop", "soul"),
    "opinion": ("not convinced", "hooked", "on the fence", "pleasantly surprised", "underwhelmed"),
    "shop": ("bakery", "bookshop", "hardware store", "corner shop", "deli", "launderette", "cheese shop"),
    "queue": ("round the block", "ridiculous", "worth it", "mostly teenagers", "forty people deep"),
    "chore": ("sorting the recycling", "ironing shirts", "descaling the kettle", "untangling fairy lights",
              "assembling a bookshelf", "fixing a dripping tap", "clearing the gutters", "reorganising the pantry",
              "defrosting the freezer"),
    "duration": ("three hours", "half the night", "way longer than it should", "most of the afternoon",
                 "forever"),
    "react": ("amazing", "exhausting", "wild", "lovely", "hilarious", "brilliant", "intense", "bittersweet"),
    "followup": ("You'll have to tell me more next time.", "I'm a bit jealous, to be honest.",
                 "How did everyone else take it?", "Was it what you expected?", "Did you take any photos?",
                 "That's the kind of thing I love hearing about."),
    "gripe": ("group chats", "self-checkout machines", "Monday mornings", "slow walkers", "printer drivers",
              "password rules", "surprise invoices", "parking apps"),
    "crazy": ("up the wall", "round the bend", "mad", "bananas", "to distraction"),
    "phone": ("died", "froze", "updated itself overnight", "fell in the sink", "stopped charging"),
    "recent": ("yesterday afternoon", "on Tuesday", "earlier today", "last night", "this afternoon",
               "on Thursday"),
    "doc": ("deep-sea squid", "Roman concrete", "the history of salt", "migrating eels", "lighthouse keepers",
            "desert ants", "the postal service", "glaciers"),
    "meal": ("lunch", "brunch", "a coffee", "dinner", "pizza", "noodles"),
    "milestone": ("your exams", "the holidays", "the busy season", "your deadline", "the long weekend"),
    "late": ("late", "cancelled", "packed", "delayed", "replaced by buses"),
    "stretch": ("half the way", "the last two miles", "back in the rain", "to the next town"),
    "hour": ("eleven", "midnight", "ten thirty", "half past eleven", "six"),
    "media": ("podcasts", "old sitcoms", "audiobooks", "crime dramas", "cooking videos", "nature documentaries"),
    "room": ("garage", "spare room", "attic", "hallway cupboard", "loft", "shed"),
    "found": ("three umbrellas", "a box of old letters", "a broken lamp", "someone else's scarf",
              "a bag of tangled cables", "two left shoes"),
    "season": ("spring", "summer", "autumn", "winter"),
    "feel": ("calmer", "slower", "a bit magical", "nostalgic", "strangely cosy"),
    "rumour": ("they're building a cinema nearby", "the mayor shops there", "prices are going up again",
               "the owner is retiring", "a film crew is coming"),
    "distraction": ("a phone call", "the doorbell", "a quiz show", "the neighbours arguing", "a very long email"),
    "consume": ("watch", "listen to", "read"),
    "intent": ("fix the wobbly chair", "learn to touch-type", "call my old teacher", "frame those prints",
               "sort my photos", "start journaling"),
    "excuse": ("something comes up", "I get distracted", "I lose the afternoon", "the day just disappears"),
    "commotion": ("street parade", "car alarm", "brass band", "food market", "road repair", "protest march"),
    "mood": ("sleepy", "restless", "cheerful", "scatterbrained", "grumpy", "upbeat"),
    "reason": ("no idea why", "probably the weather", "maybe it's the coffee", "too little sleep",
               "the sun finally came out"),
    "soon": ("this weekend", "next week", "over the holidays", "soon", "tomorrow"),
    "fad": ("brunch", "pumpkin spice", "open-plan offices", "reality shows", "smart fridges", "escape rooms"),
    "appliance": ("fridge", "washing machine", "boiler", "dishwasher", "extractor fan", "microwave", "toaster"),
    "trivia": ("octopuses might dream", "some bridges hum in the wind", "honey never spoils",
               "sloths can hold their breath for ages", "bananas are technically berries",
               "koalas sleep most of the day"),
    "bad": ("rough", "stressful", "frustrating", "awful", "draining"),
    "sympathy": ("I hope it gets sorted soon.", "Let me know if I can help.", "Sending good vibes your way.",
                 "Take it easy tonight."),
    "app": ("habit-tracking", "budgeting", "to-do", "note-taking", "meal-planning", "sleep"),
    "verdict": ("so far so good", "it nags a lot", "the design is cute", "not sure it helps"),
    "odd": ("a trumpet case", "a birthday cake", "a potted fern", "a single roller skate", "a framed photo"),
    "noise": ("leaf blower", "drill next door", "karaoke party", "car alarm", "lawnmower"),
    "month": MONTHS,
    "guests": ("my old flatmates", "some colleagues", "the people from upstairs", "two friends from school"),
    "cause": ("the local park", "bus routes", "the library hours", "street lighting", "cycle lanes"),
    "grocery": ("eggs", "fresh basil", "lemons", "decent bread", "avocados", "rice"),
    "plan": ("repaint the fence", "try that new hiking trail", "visit the flea market", "clean the windows",
             "have a barbecue"),
    "agree": ("Some days are just like that.", "I couldn't have put it better.", "That's exactly how I feel.",
              "We really should do that more often."),
    "surprise": ("I had no idea!", "That's the last thing I expected.", "Tell me everything.",
                 "How did that even happen?"),
    "ordinal_small": ("second", "third", "fourth", "fifth"),
    "question": ("do you prefer mornings or evenings?", "what was the last thing that made you laugh?",
                 "tea or coffee, honestly?", "have you ever tried cold-water swimming?",
                 "what's the best thing you ate this month?"),
}  # fmt: skip
