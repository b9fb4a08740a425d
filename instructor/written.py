r"""Written questions: parse the topic files under ``written/`` and build an assignment's document.

A topic file is Markdown with LaTeX math (``$...$`` inline, ``$$...$$`` display) laid out as::

    # Topic title
    Short introduction: notation and setting shared by the questions below.

    <!-- QUESTION ln-preln-gradient -->
    ### 1.1 Title of the question
    The question, in the kit's words (sub-parts allowed).
    <!-- BEGIN SOLUTION -->
    The worked answer a TA grades against.
    <!-- END SOLUTION -->
    <!-- END QUESTION -->

A question starts with a heading (``###``, to which the documents add its points) and may hold
several solution blocks (one per sub-part, say). Question ids are lowercase words joined by
hyphens, prefixed by their topic, and unique across ``written/``. Answers print only numbers that a
``written/calc_<topic>.py`` computes; instructor tests check the text against them.

Math must render on GitHub: ``$$`` alone on its line around display math; in inline math no
backslash before punctuation (``\,``, ``\{``, ``\|``: Markdown may eat the backslash; write ``\ ``,
``\lbrace``, ``\lVert``), no ``*`` and no ``<`` glued to a letter. ``tests/instructor/test_written_release.py``
checks these.

Text outside the QUESTION markers is *context*. The part before the first question is the topic's
introduction; a passage between two questions introduces the questions after it. When an
assignment uses a question, every context passage of its file that comes before it and has not
been printed yet is printed just before it, so a document shows each passage once, and only
passages that precede a question it uses.

``assemble(manifest)`` gives the students' document (answers replaced by a short prompt);
``answer_key(manifest)`` the same document with the worked answers, for TAs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from instructor import ROOT
from instructor.blocks import MD_BEGIN, MD_END, strip_markdown
from instructor.manifest import Manifest, Written, load

WRITTEN_DIR = ROOT / "written"

QUESTION_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*"
Q_BEGIN = re.compile(r"^\s*<!--\s*QUESTION\s+(?P<id>\S+)\s*-->\s*$")
Q_END = re.compile(r"^\s*<!--\s*END QUESTION\s*-->\s*$")
TITLE = re.compile(r"^#\s+(?P<title>.+?)\s*$")

ANSWER_LABEL = "**Answer.**"


class WrittenError(ValueError):
    """A malformed topic file, or a manifest that lists a question that does not exist."""


@dataclass(frozen=True)
class Question:
    id: str
    text: str  # the Markdown between the QUESTION markers (markers excluded), answers included
    line: int  # line number of its QUESTION marker, for error messages
    context: tuple[str, ...] = ()  # context passages that come before it (see the module docstring)


@dataclass(frozen=True)
class Topic:
    path: Path
    title: str  # from the file's first "# " heading ("" if it has none)
    passages: tuple[str, ...]  # context passages in file order; passages[0] is the introduction
    questions: dict[str, Question] = field(default_factory=dict)  # in file order


def _resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


def parse(path: str | Path) -> Topic:
    """Parse one topic file; errors name the file and line of the problem."""
    path = _resolve(path)
    if not path.exists():
        raise WrittenError(f"written topic file {path} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    title = ""
    passages: list[list[str]] = [[]]  # context passages; a new one starts after each question
    questions: dict[str, Question] = {}
    current: tuple[str, int, list[str]] | None = None  # (id, line, body) of the open question
    for number, line in enumerate(lines, start=1):
        begin, end = Q_BEGIN.match(line), Q_END.match(line)
        if begin:
            if current:
                raise WrittenError(f"{path}:{number}: QUESTION {begin['id']} opened inside question "
                                   f"{current[0]} (line {current[1]}), which has no END QUESTION")
            qid = begin["id"]
            if not re.fullmatch(QUESTION_ID, qid):
                raise WrittenError(f"{path}:{number}: question id {qid!r} must be lowercase words joined by hyphens")
            if qid in questions:
                raise WrittenError(f"{path}:{number}: duplicate question id {qid!r} "
                                   f"(first on line {questions[qid].line})")
            current = (qid, number, [])
            continue
        if end:
            if not current:
                raise WrittenError(f"{path}:{number}: END QUESTION without a QUESTION marker")
            qid, start, body = current
            context = tuple(text for text in ("".join(p).strip("\n") for p in passages) if text.strip())
            questions[qid] = Question(qid, "".join(body).strip("\n"), start, context)
            passages.append([])
            current = None
            continue
        if current:
            current[2].append(line)
            continue
        match = TITLE.match(line)
        if match and not title and not questions:
            title = match["title"]
            continue
        passages[-1].append(line)
    if current:
        raise WrittenError(f"{path}:{current[1]}: question {current[0]} has no END QUESTION")
    for question in questions.values():
        try:
            strip_markdown(question.text, f"{path} (question {question.id})")
        except ValueError as error:
            raise WrittenError(str(error)) from error
    return Topic(path, title, tuple("".join(p).strip("\n") for p in passages), questions)


def questions(path: str | Path) -> dict[str, str]:
    """Every question of a topic file: id -> its Markdown (answers included), in file order."""
    return {qid: question.text for qid, question in parse(path).questions.items()}


def all_topics() -> list[Topic]:
    """Every topic file under ``written/``, checking that question ids are unique across them."""
    topics = [parse(path) for path in sorted(WRITTEN_DIR.glob("*.md"))]
    seen: dict[str, Path] = {}
    for topic in topics:
        for qid in topic.questions:
            if qid in seen:
                raise WrittenError(f"question id {qid!r} is used in both {seen[qid].name} and {topic.path.name}")
            seen[qid] = topic.path
    return topics


def _points(points: float) -> str:
    value = int(points) if float(points).is_integer() else points
    return f"{value} point" + ("" if value == 1 else "s")


def _with_points(text: str, points: float) -> str:
    """Add "(N points)" to the question's first heading, or a line before it if it has none."""
    if not points:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if re.match(r"^#{1,6}\s", line):
            lines[index] = f"{line.rstrip()} ({_points(points)})"
            return "\n".join(lines)
    return f"*({_points(points)})*\n\n{text}"


def _keep_answers(text: str) -> str:
    """The question with its solution markers turned into a visible label."""
    out: list[str] = []
    for line in text.split("\n"):
        if MD_BEGIN.match(line):
            out += ["", ANSWER_LABEL, ""]
        elif MD_END.match(line):
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def _selected(manifest: Manifest | str) -> tuple[Manifest, list[tuple[Written, Topic, Question]]]:
    if isinstance(manifest, str):
        manifest = load(manifest)
    topics: dict[str, Topic] = {}
    chosen: list[tuple[Written, Topic, Question]] = []
    listed: set[str] = set()
    for item in manifest.written:
        if item.id in listed:
            raise WrittenError(f"{manifest.id}: written question {item.id!r} is listed twice")
        listed.add(item.id)
        if item.file not in topics:
            topics[item.file] = parse(item.file)
        topic = topics[item.file]
        if item.id not in topic.questions:
            raise WrittenError(f"{manifest.id}: written question {item.id!r} is not in {item.file}; "
                               f"its questions: {', '.join(topic.questions) or '(none)'}")
        chosen.append((item, topic, topic.questions[item.id]))
    return manifest, chosen


def _document(manifest: Manifest | str, answers: bool) -> str:
    manifest, chosen = _selected(manifest)
    title = manifest.title or manifest.id
    total = sum(item.points for item, _, _ in chosen)
    parts = [f"# {title} — written questions" + (" (answer key)" if answers else "")]
    if total:
        parts.append(f"{len(chosen)} questions, {_points(total)} in all.")
    printed: set[tuple[Path, str]] = set()
    shown_topics: set[Path] = set()
    for item, topic, question in chosen:
        if topic.path not in shown_topics:
            shown_topics.add(topic.path)
            if topic.title:
                parts.append(f"## {topic.title}")
        for passage in question.context:
            if (topic.path, passage) not in printed:
                printed.add((topic.path, passage))
                parts.append(passage)
        text = _keep_answers(question.text) if answers else strip_markdown(question.text, str(topic.path)).text
        parts.append(_with_points(text.strip("\n"), item.points))
    document = "\n\n".join(part.strip("\n") for part in parts) + "\n"
    return re.sub(r"\n{3,}", "\n\n", document)  # one blank line between blocks is enough


def assemble(manifest: Manifest | str) -> str:
    """The students' document of an assignment's written questions: answers replaced by a prompt.

    Title from the manifest, then each listed question in manifest order with its points, preceded
    by the topic title and the context passages it needs; no QUESTION or SOLUTION markers remain.
    """
    return _document(manifest, answers=False)


def answer_key(manifest: Manifest | str) -> str:
    """The same document as ``assemble`` with every worked answer in place, for TAs."""
    return _document(manifest, answers=True)


def solution_lines(manifest: Manifest | str) -> list[str]:
    """Every line of the worked answers of the listed questions (to check a handout leaks none).

    Lines that also occur in the question itself (an answer restating the formula it was asked to
    show, say) are not secret and are left out.
    """
    _, chosen = _selected(manifest)
    lines: list[str] = []
    for _, topic, question in chosen:
        stripped = strip_markdown(question.text, str(topic.path))
        shown = {line.strip() for line in stripped.text.splitlines()}
        lines += [line for line in stripped.solution_lines if line.strip() not in shown]
    return lines


IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>[^)\s]+)\)")


def images(text: str) -> list[str]:
    """Paths (relative to ``written/``) of the images a document shows (``![alt](path)``), in order.

    Worked answers may show figures the kit draws (``written/figures/``); they sit inside solution
    blocks, so only an answer key shows them.
    """
    return list(dict.fromkeys(match["path"] for match in IMAGE.finditer(text)))

