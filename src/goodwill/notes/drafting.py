"""Drafting appreciation notes from Jinja2 templates the business can edit.

Templates live in ``<moment kind>/<name>.j2``: the defaults ship in ``goodwill/notes/templates``;
a business directory (``extra_dir``) with the same layout replaces a default of the same name and
adds new variants. Every template serves all four channels with ``{% if channel == "sms" %}``...
blocks: sms (at most 300 characters, signed "– Maya at Teapot & Co"), card (at most 420, signed
with the writer's first name), email (body at most 1000) and call (talking points).

**Subject:** a first line ``Subject: ...`` of the rendered text is the email subject; it is
removed from the body for every channel and kept only for email (other channels get "").

**Variables:** every ``NoteContext`` field (``first_name``, ``full_name``, ``business_name``,
``writer_name``, ``moment``, ``channel``, ``facts``, ``last_items``, ``favourite_item``, ``orders``,
``first_order_on``, ``city``, ``question``, ``complaint``, ``praise``, ``praised_staff_name``), plus
``fact`` (the first fact or None), ``you_fact`` (the first fact of at most 120 characters that
reads well said to them: "is a teacher" -> "you're a teacher", else None), ``writer_first_name`` and
``signature`` ("Maya at Teapot & Co"; "the Teapot & Co team" when the writer is the team).

**Filters:** ``item`` ("Assam breakfast, 250 g" -> "Assam breakfast"), ``and_list`` (items, named
up to ``limit``: "a, b and c"), ``month_year``, ``ordinal`` (5 -> "5th"), ``shorten(limit)`` and
``quote(limit)`` (in curly quotes, cut at a word).

Templates run sandboxed (no ``__class__`` tricks) with undefined names an error. Printing None or a
raw list is an error too, so a forgotten ``{% if city %}`` fails loudly instead of writing "None".
Staff write templates (campaigns), so the sandbox also bounds what one expression may build: no
number past ``MAX_NUMBER_BITS`` bits (``9**99999``), no text or list past ``MAX_TEXT`` characters
(``"a" * 10**9``, ``"a"|center(10**9)``, ``{% set a = a ~ a %}`` over and over), no output past
``MAX_TEXT``; and any error inside a template (``1/0``) is a ``TemplateError`` naming it. What a
template sees of a person is cut at ``MAX_FIELD`` characters a value (a note quotes a few hundred),
so no person's data, however long, makes a default template hit those bounds.
``load_templates`` renders every template for every channel with a sparse and a full sample
person, so a broken business template is refused when loaded, naming its file and the reason.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from goodwill.notes.domain import Draft, NoteContext
from goodwill.planner.domain import Moment, MomentKind
from goodwill.planner.moments import shorten

CHANNELS = ("email", "sms", "card", "call")
# Characters a default template may use per channel (email: the body); the tests hold them to it.
LIMITS = MappingProxyType({"sms": 300, "card": 420, "email": 1000})
# Longer facts stay out of ``you_fact``: they would not fit an SMS or a card beside the rest.
_FACT_LIMIT = 120
_SUBJECT = re.compile(r"\Asubject:[ \t]*(.*)\Z", re.IGNORECASE)
_SIZE = re.compile(r",\s*\d[\d.,]*\s*(?:g|kg|mg|ml|cl|l|oz|lb|pcs?)\.?\Z", re.IGNORECASE)


# What one template may build: far more than any note, far less than could starve the server.
MAX_TEXT = 1_000_000  # characters of one value, and of a whole rendered note
MAX_FIELD = 10_000  # characters of one thing we know of a person that a template sees (their words)
MAX_NUMBER_BITS = 4_096  # about 1,200 digits
MAX_WORK = 10**8  # the sizes of one call's text and arguments, multiplied: what it may build at worst


class TemplateError(Exception):
    """A business template that does not load or render: which one, and why."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"{template}: {reason}")
        self.template = template
        self.reason = reason


@dataclass(frozen=True)
class TemplateSet:
    sources: Mapping[str, str]  # "second_order/2" -> the template's text
    origins: Mapping[str, str]  # "second_order/2" -> the file it came from, for error messages
    _env: jinja2.Environment = field(repr=False, compare=False)

    def variants(self, moment_kind: str) -> tuple[str, ...]:
        prefix = f"{moment_kind}/"
        return tuple(sorted((name for name in self.sources if name.startswith(prefix)), key=_natural))

    def render(self, name: str, context: NoteContext) -> Draft:
        """One named template for ``context`` (a preview of a variant; ``draft_note`` picks one)."""
        try:
            text = _bounded_render(self._env.get_template(name), _variables(context))
        except jinja2.TemplateError as exc:
            raise TemplateError(self.origins.get(name, name), _reason(exc)) from exc
        except Exception as exc:  # 1/0, int("x"), a recursive macro: the template's fault, not ours
            raise TemplateError(self.origins.get(name, name), _python_reason(exc)) from exc
        subject, body = _split_subject(_normalise(text))
        if context.channel == "email" and not subject:
            raise TemplateError(self.origins[name], 'the email has no first line "Subject: ..."')
        if not body:
            raise TemplateError(self.origins[name], f"renders an empty {context.channel} note")
        return Draft(subject=subject if context.channel == "email" else "", body=body, template=name)


def load_templates(extra_dir: Path | None = None) -> TemplateSet:
    """The default templates, with the business's own from ``extra_dir`` replacing or adding."""
    sources: dict[str, str] = {}
    origins: dict[str, str] = {}
    defaults = resources.files("goodwill.notes") / "templates"
    for name, file in _template_files(defaults):
        sources[name], origins[name] = file.read_text(encoding="utf-8"), f"(default) {name}.j2"
    if extra_dir is not None:
        for name, file in _template_files(extra_dir, strict=True):
            try:
                sources[name] = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(str(file), f"cannot be read: {exc}") from exc
            origins[name] = str(file)
    env = _environment(sources)
    for name in sources:
        compile_template(env, name, origins[name])
    templates = TemplateSet(MappingProxyType(sources), MappingProxyType(origins), env)
    _rehearse(templates)
    return templates


def draft_note(context: NoteContext, *, templates: TemplateSet, variant: int = 0) -> Draft:
    """The note for ``context`` from its moment's ``variant``-th template (wrapping around)."""
    if context.channel not in CHANNELS:
        raise ValueError(f"unknown channel {context.channel!r}; expected one of {', '.join(CHANNELS)}")
    names = templates.variants(context.moment.kind)
    if not names:
        raise TemplateError(str(context.moment.kind), "no templates for this moment")
    return templates.render(names[variant % len(names)], context)


def variant_for(
    person_id: int,
    week: str,
    n: int,
    used: Mapping[str, int] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> int:
    """Which of ``n`` variants to draft for a person this ISO ``week``: the least used so far.

    ``used`` maps template name -> drafts this week. Pass ``names`` (``templates.variants(kind)``)
    to say which name each position is. Without it, "kind/3" counts for position 2 (files numbered
    1..n, as the defaults are) and names that do not fit that pattern are not counted: the rotation
    is then less even, never wrong. Ties go to the first least-used position at or after a hash of
    (person, week), so the choice is stable on re-runs and people drafted in any order spread out.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if names is not None and len(names) != n:
        raise ValueError(f"names has {len(names)} entries, n is {n}")
    counts = [0] * n
    for name, times in (used or {}).items():
        position = _position(name, names, n)
        if position is not None:
            counts[position] += times
    digest = hashlib.blake2b(f"{person_id}|{week}".encode(), digest_size=8).digest()
    start = int.from_bytes(digest, "big") % n
    fewest = min(counts)
    return next(i % n for i in range(start, start + n) if counts[i % n] == fewest)


def _position(name: str, names: Sequence[str] | None, n: int) -> int | None:
    if names is not None:
        return names.index(name) if name in names else None
    stem = name.rpartition("/")[2]
    return int(stem) - 1 if stem.isdigit() and 1 <= int(stem) <= n else None


def _template_files(root: Traversable | Path, *, strict: bool = False) -> Iterable[tuple[str, Traversable]]:
    if strict and not root.is_dir():
        raise TemplateError(str(root), "is not a directory")
    kinds = {kind.value for kind in MomentKind}
    unknown = sorted(
        entry.name
        for entry in root.iterdir()
        if not entry.name.startswith(".")
        and (entry.is_dir() or entry.name.endswith(".j2"))
        and entry.name not in kinds
    )
    if strict and unknown:
        raise TemplateError(str(root), f"unknown moment directories or stray templates: {', '.join(unknown)}")
    kind_dirs = [entry for entry in root.iterdir() if entry.name in kinds and entry.is_dir()]
    for kind_dir in sorted(kind_dirs, key=lambda e: e.name):
        for file in sorted(kind_dir.iterdir(), key=lambda e: e.name):
            if file.name.endswith(".j2") and not file.name.startswith(".") and file.is_file():
                yield f"{kind_dir.name}/{file.name.removesuffix('.j2')}", file


def compile_template(env: jinja2.Environment, name: str, origin: str) -> None:
    """Compile one template now, so a broken one is refused when loaded, naming ``origin``."""
    try:
        env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(origin, f"line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(origin, _reason(exc)) from exc
    except Exception as exc:  # ((((... nested thousands deep: RecursionError in the parser
        raise TemplateError(origin, _python_reason(exc)) from exc


def _python_reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nests or recurses too deeply"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _bounded_render(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """``template.render``, refusing to build more than ``MAX_TEXT`` characters of output."""
    parts: list[str] = []
    size = 0
    for part in template.generate(variables):
        size += len(part)
        if size > MAX_TEXT:
            raise SecurityError(f"renders more than {MAX_TEXT:,} characters")
        parts.append(part)
    return "".join(parts)


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_NUMBER_BITS:
        raise SecurityError(f"builds a number of more than {MAX_NUMBER_BITS:,} bits")
    if isinstance(value, str | list | tuple) and len(value) > MAX_TEXT:
        raise SecurityError(f"builds a text or list of more than {MAX_TEXT:,} characters")
    return value


def _size(value: Any) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return max(abs(value), 1)
    if isinstance(value, str | list | tuple | dict | range):
        return max(len(value), 1)
    return 1


def _check_work(values: Iterable[Any]) -> None:
    """Refuse a call whose sizes multiply past ``MAX_WORK`` before it runs: ``big.replace("a", big)``,
    ``big|join(big)``, ``"a"|center(10**9)``, ``lipsum(10**6)``, ``(tabs).expandtabs(10**5)``."""
    work = 1
    for value in values:
        work *= _size(value)
        if work > MAX_WORK:
            raise SecurityError("would build too much text (sizes or counts too large)")


def _check_format(pattern: str) -> None:
    """``"%99999999d"``, ``"{:>99999}" * 1000``: the widths a format asks for add up to its output."""
    if sum(int(n) for n in re.findall(r"\d{1,30}", pattern)) > MAX_TEXT:
        raise SecurityError(f"formats to more than {MAX_TEXT:,} characters")


class _BoundedCode(CodeGenerator):
    """Compiles ``a ~ b`` to a call that checks the size of the text it makes."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _NoteSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no internals), and no value so big it would starve the server."""

    code_generator_class = _BoundedCode
    # Intercepted operators are also never folded at compile time: 7**(10**9) is not computed on load.
    intercepted_binops = frozenset({"+", "*", "**", "//", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        whole = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and whole and right > 0 and max(left.bit_length(), 1) * right > MAX_NUMBER_BITS:
            raise SecurityError(f"builds a number of more than {MAX_NUMBER_BITS:,} bits")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_TEXT
                ):
                    raise SecurityError(f"builds a text or list of more than {MAX_TEXT:,} characters")
            if whole and left.bit_length() + right.bit_length() > MAX_NUMBER_BITS + 1:
                raise SecurityError(f"builds a number of more than {MAX_NUMBER_BITS:,} bits")
        if operator == "%" and isinstance(left, str):
            _check_format(left)  # as for str.format: values put in, not counts
        return _check_size(super().call_binop(context, operator, left, right))

    def concat(self, parts: Iterable[Any]) -> str:
        text = ""
        for part in parts:
            text += str(part)
            _check_size(text)
        return text

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        receiver = getattr(method, "__self__", None)  # "text" in "text".replace(...)
        if isinstance(receiver, str) and getattr(method, "__name__", "") in ("format", "format_map"):
            # The arguments are values put in, not counts: the output is their sum plus the widths
            # the pattern asks for (checked here), and its size is checked once built.
            _check_format(receiver)
        else:
            _check_work([receiver, *args, *kwargs.values()])
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def _bounded_filter(name: str, function: Any) -> Any:
    @functools.wraps(function)  # keeps Jinja's pass_context marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        given = [a for a in args if not isinstance(a, Context | EvalContext | jinja2.Environment)]
        value, options = (given[0], [*given[1:], *kwargs.values()]) if given else (None, [*kwargs.values()])
        if name == "format" and isinstance(value, str):
            _check_format(value)  # as for str.format: values put in, not counts
        else:
            # A number being filtered (``orders|ordinal``) is no size; numbers given to the filter are.
            _check_work([None if isinstance(value, int) else value, *options])
        return _check_size(function(*args, **kwargs))

    return bounded


def _environment(sources: Mapping[str, str]) -> jinja2.Environment:
    env = _NoteSandbox(
        loader=jinja2.DictLoader(dict(sources)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text; the HTML email escapes it later
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_finalize,
    )
    filters = {"item": _item, "and_list": _and_list, "month_year": _month_year, "ordinal": _ordinal}
    env.filters.update(filters, shorten=_shorten, quote=_quote)
    for name, function in list(env.filters.items()):
        env.filters[name] = _bounded_filter(name, function)
    env.globals.pop("lipsum", None)  # pages of filler text: nothing a note should say
    return env


def _finalize(value: Any) -> Any:
    if value is None:
        raise jinja2.TemplateRuntimeError("prints an empty value (None); wrap it in {% if ... %}")
    if isinstance(value, list | tuple | set | frozenset | dict):
        raise jinja2.TemplateRuntimeError("prints a list as code; use |and_list or |first")
    return value


def _variables(context: NoteContext) -> dict[str, Any]:
    variables: dict[str, Any] = {f.name: _cut(getattr(context, f.name)) for f in fields(context)}
    facts = [fact.strip() for fact in variables["facts"] if fact.strip()]
    variables["facts"] = tuple(facts)
    variables["fact"] = facts[0] if facts else None
    said = (second_person(fact) for fact in facts if len(fact) <= _FACT_LIMIT)
    variables["you_fact"] = next((words for words in said if words), None)
    writer = variables["writer_name"].strip()
    team = writer.lower().startswith("the ")  # no one assigned: signed "the Teapot & Co team"
    variables["writer_first_name"] = writer if team or not writer else writer.split()[0]
    variables["signature"] = (
        writer if team else f"{variables['writer_first_name']} at {variables['business_name']}"
    )
    return variables


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD:
        return value[: MAX_FIELD - 1] + "…"
    if isinstance(value, tuple):
        return tuple(_cut(item) for item in value)
    return value


def _reason(exc: jinja2.TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    message = exc.message or type(exc).__name__
    return f"line {line}: {message}" if line else message


def _normalise(text: str) -> str:
    """No trailing spaces, no runs of spaces inside a line, at most one blank line, stripped."""
    lines = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        lines.append(indent + re.sub(r"[ \t]{2,}", " ", line.strip()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _split_subject(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    match = _SUBJECT.match(first.strip())
    return (match.group(1).strip(), rest.strip()) if match else ("", text)


def _natural(name: str) -> tuple[int, int, str]:
    stem = name.rpartition("/")[2]
    return (0, int(stem), stem) if stem.isdigit() else (1, 0, stem)


def _item(name: str) -> str:
    return _SIZE.sub("", name.strip()).strip()


def _and_list(items: Iterable[str], limit: int = 2) -> str:
    named = [_item(i) for i in items if i and i.strip()][:limit]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1] if named else ""


def _month_year(day: date) -> str:
    return f"{calendar.month_name[day.month]} {day.year}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _shorten(text: str, limit: int = 80) -> str:
    """The templates' ``shorten`` filter: the planner's rule, with "" for no text."""
    return shorten(text, limit) or ""


def _quote(text: str, limit: int = 200) -> str:
    """Their words in curly quotes, without a closing full stop so the sentence can go on after it."""
    words = _shorten(text.strip().strip("\"'“”‘’").strip(), limit)
    return "“" + (words[:-1] if words.endswith(".") and not words.endswith("..") else words) + "”"


def _rehearse(templates: TemplateSet) -> None:
    """Render every template for every channel with a sparse and a full person, to fail at load."""
    for name in templates.sources:
        kind = MomentKind(name.partition("/")[0])
        for context in _samples(kind):
            templates.render(name, context)


def _samples(kind: MomentKind) -> Iterable[NoteContext]:
    moment = Moment(kind=kind, strength=50, evidence="sample", subject=None)
    sparse = NoteContext("Ana", "Ana", "Teapot & Co", "Maya", moment, "email")
    full = NoteContext(
        "Ana", "Ana Souza", "Teapot & Co", "Maya Chen", moment, "email",
        facts=("is a teacher and buys rooibos for the staff room",),
        last_items=("Assam breakfast, 250 g", "Glass infuser mug"), favourite_item="Sencha Uji, 100 g",
        orders=7, first_order_on=date(2023, 3, 2), city="Porto",
        question="Is the kettle safe on induction?", complaint="The lid arrived chipped.",
        praise="Tom was so patient with me.", praised_staff_name="Tom",
    )  # fmt: skip
    for context in (sparse, full):
        for channel in CHANNELS:
            yield replace(context, channel=channel)


# Staff write facts about a person ("is a teacher and buys rooibos"); a note says them to the person.
_BE_HAVE = {"is": "you're", "has": "you have", "was": "you were", "does": "you do", "goes": "you go"}
_BE_HAVE |= {"isn't": "you aren't", "hasn't": "you haven't", "wasn't": "you weren't", "doesn't": "you don't"}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PAST = _words(
    """told gave sent bought came took made said wrote found brought left began got had went knew met lost
    won spent taught grew built drove ran saw chose forgot became paid heard felt kept sold thought sang"""
)
_ADVERBS = _words("always often usually never still also just recently sometimes once really only now")
# Verbs that may follow "and" in a fact; any other word after "and" is left alone ("tea and biscuits").
_VERBS = _words(
    """buy order love like drink brew run host collect prefer give send make keep come visit work live teach
    write read take bring share enjoy want need use grow bake cook travel ask tell say know play walk try
    study sing paint swim cycle knit volunteer gift mention look care"""
)
_PRONOUNS = {"his": "your", "their": "your", "hers": "yours", "theirs": "yours", "him": "you", "them": "you"}
_PRONOUNS |= {"himself": "yourself", "herself": "yourself", "themselves": "yourself", "themself": "yourself"}
_PRONOUNS |= {"he's": "you're", "she's": "you're", "they're": "you're"}
_SUBJECTS = {"he", "she", "they"}
# "her" is "you" before these (or at the end), else "your": "sent her a sample", "her mother".
_AFTER_OBJECT_HER = _words("a an the some to and for with about that know")


def second_person(fact: str) -> str | None:
    """A staff-written fact said to the person ("hosts a tea club" -> "you host a tea club"), or None
    when it does not start as something they do or are, so the note leaves it out."""
    words = fact.strip().rstrip(".").split()
    if not words:
        return None
    if words[0][1:].islower():
        words[0] = words[0].lower()
    lead: list[str] = []
    while words and words[0] in _ADVERBS:
        lead.append(words.pop(0))
    if not words:
        return None
    verb, rest = words[0], words[1:]
    if not lead and verb.lower() in ("her", "his", "their"):  # "her daughter is getting married"
        return " ".join(["your", *_to_you(rest, present=True)])
    if verb in _BE_HAVE:
        said = _BE_HAVE[verb].split()
        head = [*said[:1], *lead, *said[1:]]
    elif verb in _PAST or verb.endswith("ed"):
        head = ["you", *lead, verb]
    elif verb.endswith("s") and not verb.endswith(("ss", "us")) and verb.isalpha():
        head = ["you", *lead, _base(verb)]
    else:
        return None
    return " ".join(head + _to_you(rest, present=verb not in _PAST and not verb.endswith("ed")))


def _to_you(words: list[str], *, present: bool) -> list[str]:
    out: list[str] = []
    subject_before = False  # the previous word was "she"/"he"/"they", now "you": its verb follows suit
    for i, raw in enumerate(words):
        word = raw.rstrip(",;:")
        tail = raw[len(word) :]
        after = words[i + 1].rstrip(",;:").lower() if i + 1 < len(words) else None
        lower = word.lower()
        if lower in _PRONOUNS:
            word = _PRONOUNS[lower]
        elif lower == "her":
            word = "you" if after is None or tail or after in _AFTER_OBJECT_HER else "your"
        elif lower in _SUBJECTS:
            word = "you"
        elif _verb_to_follow(lower, subject_before=subject_before, after_and=present and out[-1:] == ["and"]):
            word = _base(lower)
        subject_before = lower in _SUBJECTS and not tail
        out.append(word + tail)
    return out


def _verb_to_follow(word: str, *, subject_before: bool, after_and: bool) -> bool:
    """Whether a third-person verb must become "you"-form: after a pronoun turned "you", or after
    "and" in a fact that began with a present-tense verb ("is a teacher and buys rooibos")."""
    if subject_before:
        return word in _BE_HAVE or (word.endswith("s") and not word.endswith("ss"))
    return after_and and _base(word) in _VERBS


def _base(verb: str) -> str:
    """The plain form of a third-person verb: "hosts" -> "host", "carries" -> "carry"."""
    if verb in _BE_HAVE:
        return {"is": "are", "has": "have", "was": "were", "does": "do", "goes": "go"}.get(verb, verb)
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith(("sses", "shes", "ches", "xes", "zzes", "oes")):
        return verb[:-2]
    return verb[:-1] if verb.endswith("s") else verb
