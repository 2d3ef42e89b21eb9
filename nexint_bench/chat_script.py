"""Seeded long chats for ``memos bench chat``: small talk, facts stated early and asked about later, tool calls.

A chat is a list of user turns. Each turn is one of:

- ``talk``: small talk of mixed length (a few words to several paragraphs) and the assistant's reply;
- ``fact``: the user states a fact made from a template with random values ("My locker code at the gym
  is 4512."); every fact's text is unique in the run;
- ``question``: the user asks about a fact stated earlier, in the fact's own key words (retrieval can
  find it; this is not a paraphrase test);
- ``tool``: the user asks for a web page, a folder listing or a file; the assistant calls a tool, whose
  result (a generated page, listing or log, 50 to 8,000 tokens of the project's tokenizer) it then
  answers from. Every chat of 14 turns or more has a result aimed under 100 tokens and one over 7,000.

Every message of a chat is unique, so a message that reached a model is known by its text. The same
seed gives the same chats.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from nexint_bench.chat_metrics import Msg, arguments_json
from nexint_core.errors import InvalidArgument
from nexint_core.tokens import Tokenizer

__all__ = [
    "FACT_TEMPLATES",
    "MAX_RESULT_TOKENS",
    "MIN_RESULT_TOKENS",
    "MIN_TURNS",
    "TOOL_NAMES",
    "Chat",
    "ChatTurn",
    "Fact",
    "ToolCall",
    "generate_chats",
]

MIN_TURNS = 4  # a fact, small talk, a tool call and the question
MIN_RESULT_TOKENS = 50
MAX_RESULT_TOKENS = 8000
TOOL_NAMES = ("fetch_page", "list_files", "read_file")
_TOOL_EVERY = 7  # about one turn in seven calls a tool
_TURNS_PER_FACT = 30


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A scripted tool call and the result its tool returns."""

    call_id: str
    name: str  # one of TOOL_NAMES
    argument: str  # the tool's only argument: a URL or a path
    result: str
    result_tokens: int

    @property
    def args(self) -> dict[str, str]:
        """The call's arguments, as a model would send them."""
        return {"url" if self.name == "fetch_page" else "path": self.argument}


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact planted in one turn and asked about in a later one."""

    key: str  # its template
    text: str  # the sentence that must reach the model when the question is asked
    question: str
    answer: str
    stated: int  # turn index
    asked: int  # turn index, after ``stated``


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One user turn and what the assistant says in it."""

    index: int
    kind: str  # talk, fact, question or tool
    user: str
    reply: str  # the assistant's final answer
    call: ToolCall | None = None
    call_text: str = ""  # what the assistant says beside its tool call
    fact: Fact | None = None  # the fact stated (kind fact) or asked about (kind question)

    def messages(self) -> list[Msg]:
        """The turn's messages in order: user, then the tool call and its result if any, then the reply."""
        messages = [Msg("user", self.user)]
        if self.call is not None:
            call = self.call
            messages.append(Msg("assistant", self.call_text, ((call.call_id, call.name, arguments_json(call.args)),)))
            messages.append(Msg("tool", call.result, call_id=call.call_id))
        messages.append(Msg("assistant", self.reply))
        return messages


@dataclass(frozen=True, slots=True)
class Chat:
    """A generated conversation."""

    chat_id: str
    turns: tuple[ChatTurn, ...]
    facts: tuple[Fact, ...]

    def messages(self) -> list[Msg]:
        """The whole conversation, in order."""
        return [message for turn in self.turns for message in turn.messages()]

    def starts(self) -> list[int]:
        """The index in :meth:`messages` of each turn's user message."""
        starts, at = [], 0
        for turn in self.turns:
            starts.append(at)
            at += len(turn.messages())
        return starts


# -- words -------------------------------------------------------------------------------------------

_WOMEN = ("Ana", "Chiara", "Elif", "Greta", "Ines", "Lena", "Nadia", "Priya", "Rosa", "Uma", "Wanda", "Yara", "Zoe")
_MEN = ("Bruno", "Dmitri", "Farid", "Hiro", "Jonas", "Kemal", "Mateo", "Oskar", "Quentin", "Sven", "Tomasz", "Viktor")
_NAMES = _WOMEN + _MEN
_CITIES = (
    "Lisbon", "Porto", "Madrid", "Oslo", "Vienna", "Prague", "Dublin", "Tallinn", "Krakow", "Ghent", "Bergen",
    "Lyon", "Turin", "Seville", "Riga", "Utrecht", "Graz", "Malmo", "Bilbao", "Zagreb",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ADJECTIVES = ("amber", "silent", "crimson", "velvet", "northern", "electric", "quiet", "golden", "paper", "iron")
_ANIMALS = ("heron", "badger", "otter", "falcon", "lynx", "walrus", "gecko", "marten", "ibis", "stoat")
_DOGS = ("Biscuit", "Pepper", "Nugget", "Waffles", "Juniper", "Pickle", "Mochi", "Sprocket", "Truffle", "Dumpling")
_FOODS = ("sesame", "kiwi", "shellfish", "hazelnuts", "mustard", "celery", "lupin", "buckwheat")
_SPOTS = ("blue flowerpot", "loose porch tile", "garden gnome", "doormat", "birdbath", "woodpile", "mailbox")
_VENUES = ("cabin", "studio", "beach house", "coworking space", "ski lodge", "boathouse")
_MALLS = ("Riverside", "Northgate", "Eastfield", "Harbour Point", "Westbrook", "Elm Park")
_CAFES = ("Cafe Lumen", "the Copper Kettle", "Bean There", "the Reading Room", "Marlow's", "the Tin Cup")
_WORDS = ("maple", "orbit", "pebble", "lantern", "cactus", "harbor", "violet", "tundra", "zephyr", "quartz")


def _code(rng: random.Random, digits: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(digits))


FactMaker = Callable[[random.Random], tuple[str, str, str]]  # rng -> (fact, question, answer)


def _locker(rng: random.Random) -> tuple[str, str, str]:
    code = _code(rng, 4)
    return f"My locker code at the gym is {code}.", "What is my locker code at the gym?", code


def _wifi(rng: random.Random) -> tuple[str, str, str]:
    venue, word = rng.choice(_VENUES), f"{rng.choice(_WORDS)}{_code(rng, 3)}"
    return f"The wifi password at the {venue} is {word}.", f"What is the wifi password at the {venue}?", word


def _sister(rng: random.Random) -> tuple[str, str, str]:
    name, city = rng.choice(_WOMEN), rng.choice(_CITIES)
    return f"My sister {name} moved to {city} last spring.", f"Which city did my sister {name} move to?", city


def _dentist(rng: random.Random) -> tuple[str, str, str]:
    when = f"{rng.choice(_WEEKDAYS)} at {rng.randint(8, 17)}:{rng.choice(('00', '15', '30', '45'))}"
    return f"My dentist appointment is on {when}.", "When is my dentist appointment?", when


def _parking(rng: random.Random) -> tuple[str, str, str]:
    level, mall = str(rng.randint(2, 9)), rng.choice(_MALLS)
    return (
        f"I parked the car on level {level} of the {mall} garage.",
        f"Which level of the {mall} garage did I park the car on?",
        level,
    )


def _flight(rng: random.Random) -> tuple[str, str, str]:
    city, gate = rng.choice(_CITIES), f"{rng.choice('ABCDE')}{rng.randint(1, 48)}"
    return f"My flight to {city} leaves from gate {gate}.", f"Which gate does my flight to {city} leave from?", gate


def _codename(rng: random.Random) -> tuple[str, str, str]:
    name = f"{rng.choice(_ADJECTIVES).title()} {rng.choice(_ANIMALS).title()}"
    return f"Our team's project codename is {name}.", "What is our team's project codename?", name


def _dog(rng: random.Random) -> tuple[str, str, str]:
    name, dog = rng.choice(_NAMES), rng.choice(_DOGS)
    return f"My neighbour {name}'s dog is called {dog}.", f"What is my neighbour {name}'s dog called?", dog


def _spare_key(rng: random.Random) -> tuple[str, str, str]:
    spot = rng.choice(_SPOTS)
    return f"The spare house key is hidden under the {spot}.", "Where is the spare house key hidden?", spot


def _allergy(rng: random.Random) -> tuple[str, str, str]:
    name, food = rng.choice(_MEN), rng.choice(_FOODS)
    return f"My nephew {name} is allergic to {food}.", f"What is my nephew {name} allergic to?", food


def _bike_lock(rng: random.Random) -> tuple[str, str, str]:
    code = _code(rng, 3)
    return f"The combination for my bike lock is {code}.", "What is the combination for my bike lock?", code


def _book_club(rng: random.Random) -> tuple[str, str, str]:
    cafe, day = rng.choice(_CAFES), rng.choice(_WEEKDAYS)
    return (
        f"The book club meets at {cafe} every {day}.",
        "Where and when does the book club meet?",
        f"{cafe} every {day}",
    )


FACT_TEMPLATES: dict[str, FactMaker] = {
    "locker": _locker,
    "wifi": _wifi,
    "sister": _sister,
    "dentist": _dentist,
    "parking": _parking,
    "flight": _flight,
    "codename": _codename,
    "dog": _dog,
    "spare_key": _spare_key,
    "allergy": _allergy,
    "bike_lock": _bike_lock,
    "book_club": _book_club,
}

# Leads end a sentence or a clause, so the fact or question keeps its capital letter and its exact text.
_FACT_LEADS = ("", "By the way: ", "Before I forget: ", "Oh, one more thing. ", "Something to remember: ")
_QUESTION_LEADS = ("", "Quick question: ", "Remind me: ", "I forgot something. ", "Can you help me remember? ")

# Small talk shares no content word with the facts or their questions.
_SUBJECTS = (
    "the new bakery on the corner", "my cousin's wedding plans", "the football match last night", "that documentary",
    "the tomato plants", "our old kitchen radio", "the rainy forecast", "a podcast about volcanoes",
    "the jazz concert", "my sourdough starter", "the hiking trail by the river", "a crossword puzzle",
    "the chess tournament", "an article about bees", "my grandmother's recipes", "the village fair",
    "the repainted fence", "a film about submarines", "the tram strike", "my running shoes",
)  # fmt: skip
_OPINIONS = (
    "was better than I expected", "took far longer than planned", "made me laugh", "was a bit of a letdown",
    "surprised everyone", "reminded me of being a child", "kept me up late", "is all anyone talks about",
    "needs more attention than I thought", "turned out to be relaxing", "went sideways at the end",
)  # fmt: skip
_ACTIVITIES = (
    "baked {n} rolls", "walked {n} kilometres", "read {n} pages", "spent {n} minutes untangling cables",
    "repotted {n} plants", "listened to {n} songs on repeat", "fixed {n} squeaky hinges", "wrote {n} postcards",
    "sorted {n} old photographs", "tried {n} kinds of tea",
)  # fmt: skip
_WHEN = ("this morning", "yesterday", "on the weekend", "after lunch", "late at night", "before work", "today")
_REACTIONS = (
    "That sounds lovely.", "Ha, I can picture that.", "That must have been tiring.", "What a day.",
    "I like the sound of that.", "Fair enough.", "That is a good way to spend the time.", "Oh no.",
)  # fmt: skip
_FOLLOW_UPS = (
    "Would you do it again?", "How did it end?", "Did anyone join you?", "What was the best part?",
    "Was it worth the effort?", "Do you want to talk more about it?", "What happens next?",
)  # fmt: skip


def _sentence(rng: random.Random) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_OPINIONS)}."
    if choice == 1:
        activity = rng.choice(_ACTIVITIES).format(n=rng.randint(2, 400))
        return f"I {activity} {rng.choice(_WHEN)}."
    if choice == 2:
        return f"{rng.choice(_NAMES)} told me that {rng.choice(_SUBJECTS)} {rng.choice(_OPINIONS)}."
    return f"I keep thinking about {rng.choice(_SUBJECTS)}, which {rng.choice(_OPINIONS)} {rng.choice(_WHEN)}."


def _talk(rng: random.Random) -> str:
    """A user's small talk: short (one sentence), medium (two to five) or long (one to four paragraphs)."""
    draw = rng.random()
    if draw < 0.4:
        return _sentence(rng)
    if draw < 0.8:
        return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(5, 12))) for _ in range(rng.randint(1, 4))]
    return "\n\n".join(paragraphs)


def _talk_reply(rng: random.Random) -> str:
    parts = [rng.choice(_REACTIONS)]
    if rng.random() < 0.3:
        parts += [_sentence(rng).replace("I ", "You ", 1) for _ in range(rng.randint(1, 4))]
    parts.append(rng.choice(_FOLLOW_UPS))
    return " ".join(parts)


# -- tool results ------------------------------------------------------------------------------------

_SITES = ("example-news", "trailguide", "recipebox", "citytransit", "gardenwiki", "astro-notes", "bikeshop")
_SECTIONS = ("Overview", "History", "Details", "Schedule", "Prices", "Reviews", "Frequently asked", "Contact")
_EXTENSIONS = ("txt", "csv", "json", "png", "md", "py", "log", "pdf")
_LEVELS = ("INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR")


def _grow(rng: random.Random, kind: str, argument: str, target: int, count: Callable[[str], int]) -> tuple[str, str]:
    """A tool result of ``kind`` with about ``target`` tokens (at least :data:`MIN_RESULT_TOKENS`, at most
    :data:`MAX_RESULT_TOKENS`), and the assistant's one-line answer about it."""
    if kind == "fetch_page":
        title = f"{rng.choice(_SUBJECTS).title()} - {rng.choice(_SITES)}"
        head = [f"<title>{title}</title>", f"URL: {argument}"]

        def line() -> str:
            return f"## {rng.choice(_SECTIONS)} {rng.randint(1, 99)}\n" + " ".join(
                _sentence(rng) for _ in range(rng.randint(1, 5))
            )

    elif kind == "list_files":
        head = [f"total listing of {argument}"]
        title = argument

        def line() -> str:
            name = f"{rng.choice(_WORDS)}_{rng.randint(1, 9999):04d}.{rng.choice(_EXTENSIONS)}"
            size = rng.randint(120, 9_999_999)
            day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            return (
                f"-rw-r--r--  1 user  staff  {size:>9}  {day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}  {name}"
            )

    else:
        head = [f"# {argument}"]
        title = argument

        def line() -> str:
            clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            stamp = f"2024-03-{rng.randint(1, 28):02d}T{clock}Z"
            return (
                f"{stamp} {rng.choice(_LEVELS)} worker-{rng.randint(1, 16)} request {rng.randint(10_000, 99_999)} "
                f"served in {rng.randint(2, 900)} ms"
            )

    lines = list(head)
    guess = count("\n".join(lines))
    while guess < target:  # a guess first (a line and its break), then the exact count settles it
        extra = line()
        lines.append(extra)
        guess += count(extra) + 1
    text = "\n".join(lines)
    while count(text) < max(target, MIN_RESULT_TOKENS):
        lines.append(line())
        text = "\n".join(lines)
    while count(text) > MAX_RESULT_TOKENS:
        lines.pop()
        text = "\n".join(lines)
    body = len(lines) - len(head)
    if kind == "fetch_page":
        answer = f"The page at {argument} ('{title}') has {body} sections; I read all of them."
    elif kind == "list_files":
        answer = f"{argument} holds {body} files."
    else:
        answer = f"{argument} has {body} log lines, from one run of the service."
    return text, answer


def _result_sizes(rng: random.Random, tools: int) -> list[int]:
    """Target result sizes, log-uniform over 50-8,000 tokens; with two calls or more, one aims under 100
    tokens and one over 7,000, so both ends are exercised."""
    low, high = math.log(MIN_RESULT_TOKENS), math.log(MAX_RESULT_TOKENS)
    sizes = [round(math.exp(rng.uniform(low, high))) for _ in range(tools)]
    if tools >= 2:
        big, small = rng.sample(range(tools), 2)
        sizes[big] = rng.randint(7000, MAX_RESULT_TOKENS - 50)
        sizes[small] = rng.randint(MIN_RESULT_TOKENS, 99)
    return sizes


def _request(rng: random.Random, kind: str) -> tuple[str, str, str]:
    """``(argument, the user's request, what the assistant says beside its call)`` for a tool call."""
    number = rng.randint(100, 99_999)
    if kind == "fetch_page":
        argument = f"https://{rng.choice(_SITES)}.example/{rng.choice(_WORDS)}/{number}"
        return argument, f"Can you fetch {argument} and tell me what it says?", "Let me fetch that page."
    if kind == "list_files":
        argument = f"/home/user/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}-{number}"
        return argument, f"What is in the folder {argument}? Please list it.", f"Listing {argument}."
    argument = f"/var/log/{rng.choice(_WORDS)}/service-{number}.log"
    return argument, f"Open the file {argument} and tell me what is in it.", f"Opening {argument}."


def _tool_turn(
    rng: random.Random,
    chat_id: str,
    index: int,
    target: int,
    count: Callable[[str], int],
    taken: set[str],
    used: set[str],
) -> ChatTurn:
    """A tool turn whose argument no chat of the run used before (the tools look results up by it)."""
    kind = rng.choice(TOOL_NAMES)
    argument, user, said = _request(rng, kind)
    while argument in used or user in taken:  # the call's own message is told apart by its call id
        argument, user, said = _request(rng, kind)
    used.add(argument)
    result, answer = _grow(rng, kind, argument, target, count)
    taken.update((user, answer))
    call = ToolCall(f"call_{chat_id}_{index}", kind, argument, result, count(result))
    return ChatTurn(index, "tool", user, answer, call=call, call_text=said)


# -- chats -------------------------------------------------------------------------------------------


def _plan(rng: random.Random, turns: int) -> tuple[dict[int, int], dict[int, int], list[int]]:
    """Which turns state a fact, which ask about it, which call a tool: ``(stated -> fact number,
    asked -> fact number, tool turns)``. Facts come in the first quarter, questions in the last 40 %."""
    facts = max(1, min(len(FACT_TEMPLATES), turns // _TURNS_PER_FACT))
    early = list(range(1, max(2, turns // 4)))
    late = list(range(max(2, turns - (2 * turns) // 5), turns))
    stated_at = sorted(rng.sample(early, min(facts, len(early))))
    asked_at = sorted(rng.sample([t for t in late if t > stated_at[0]], len(stated_at)))
    stated = {turn: number for number, turn in enumerate(stated_at)}
    asked = {turn: number for number, turn in enumerate(asked_at)}  # in order, so each after its own fact
    free = [turn for turn in range(1, turns) if turn not in stated and turn not in asked]
    tools = sorted(rng.sample(free, min(len(free), max(1, turns // _TOOL_EVERY))))
    return stated, asked, tools


def _unique(rng: random.Random, make: Callable[[random.Random], str], taken: set[str]) -> str:
    """A message drawn with ``make`` that was not said before in the chat (a repeat is drawn again)."""
    text = make(rng)
    while text in taken:
        text = make(rng)
    taken.add(text)
    return text


def _fresh(rng: random.Random, text: str, taken: set[str]) -> str:
    """``text``, or if the chat said it before, ``text`` with a remark that makes it new."""
    while text in taken:
        text = f"{text} ({rng.choice(_REACTIONS)})"
    taken.add(text)
    return text


def _chat(rng: random.Random, chat_id: str, turns: int, count: Callable[[str], int], used: set[str]) -> Chat:
    """One chat; ``used`` holds the facts and tool arguments of the run's chats so far, which it adds to."""
    stated, asked, tool_turns = _plan(rng, turns)
    names = rng.sample(sorted(FACT_TEMPLATES), len(stated))
    facts: list[Fact] = []
    for number, key in enumerate(names):
        for _ in range(1000):
            text, question, answer = FACT_TEMPLATES[key](rng)
            if text not in used:
                break
        else:
            raise InvalidArgument(f"could not draw a new {key} fact: too many chats for the templates' values")
        used.add(text)
        when_stated = next(turn for turn, n in stated.items() if n == number)
        when_asked = next(turn for turn, n in asked.items() if n == number)
        facts.append(Fact(key, text, question, answer, when_stated, when_asked))
    sizes = dict(zip(tool_turns, _result_sizes(rng, len(tool_turns)), strict=True))
    taken: set[str] = set()
    result: list[ChatTurn] = []
    for index in range(turns):
        if index in stated:
            fact = facts[stated[index]]
            user = _fresh(rng, rng.choice(_FACT_LEADS) + fact.text, taken)
            reply = _fresh(rng, f"Noted, I will remember that. {rng.choice(_FOLLOW_UPS)}", taken)
            result.append(ChatTurn(index, "fact", user, reply, fact=fact))
        elif index in asked:
            fact = facts[asked[index]]
            user = _fresh(rng, rng.choice(_QUESTION_LEADS) + fact.question, taken)
            reply = _fresh(rng, f"From what you told me earlier: {fact.answer}.", taken)
            result.append(ChatTurn(index, "question", user, reply, fact=fact))
        elif index in sizes:
            result.append(_tool_turn(rng, chat_id, index, sizes[index], count, taken, used))
        else:
            user = _unique(rng, _talk, taken)
            reply = _unique(rng, _talk_reply, taken)
            result.append(ChatTurn(index, "talk", user, reply))
    return Chat(chat_id, tuple(result), tuple(sorted(facts, key=lambda fact: fact.stated)))


def generate_chats(count: int, turns: int, seed: int, tokenizer: Tokenizer) -> list[Chat]:
    """``count`` chats of ``turns`` user turns each, the same for the same arguments."""
    if count < 1:
        raise InvalidArgument(f"--chats must be at least 1, got {count}")
    if turns < MIN_TURNS:
        raise InvalidArgument(f"--turns must be at least {MIN_TURNS} (a fact, a tool call, a question), got {turns}")
    used: set[str] = set()
    chats = []
    for number in range(count):
        rng = random.Random(seed * 1_000_003 + number)
        chats.append(_chat(rng, f"c{number}", turns, tokenizer.count, used))
    return chats
