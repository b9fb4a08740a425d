"""The written questions: topic files parse, manifests list existing ids, releases leak no answer."""

from __future__ import annotations

import re

import pytest

from instructor import manifest as manifests
from instructor import written
from instructor.blocks import MD_PLACEHOLDER, is_distinctive, strip_markdown

ASSIGNMENTS = manifests.available()
TOPIC_FILES = sorted(written.WRITTEN_DIR.glob("*.md"))

SAMPLE = """\
# Sample topic
Shared notation.

<!-- QUESTION s-first -->
### 1 First
What is $1 + 1$?
<!-- BEGIN SOLUTION -->
It is two, since adding one to one gives the successor of one.
<!-- END SOLUTION -->
<!-- END QUESTION -->

Context for the second question only.

<!-- QUESTION s-second -->
### 2 Second
(a) Part one. (b) Part two.
<!-- BEGIN SOLUTION -->
(a) The first worked answer is long enough to count.
<!-- END SOLUTION -->
<!-- BEGIN SOLUTION -->
(b) The second worked answer is long enough to count.
<!-- END SOLUTION -->
<!-- END QUESTION -->
"""


def sample_manifest(tmp_path, entries, text=SAMPLE):
    path = tmp_path / "sample.md"
    path.write_text(text)
    items = tuple(manifests.Written(id=qid, file=str(path), points=points) for qid, points in entries)
    return manifests.Manifest(id="sample", title="Sample course, assignment 0", written=items)


def test_parser_reads_ids_text_and_context(tmp_path):
    path = tmp_path / "sample.md"
    path.write_text(SAMPLE)
    found = written.questions(path)
    assert list(found) == ["s-first", "s-second"]
    assert found["s-first"].startswith("### 1 First")
    assert "<!-- BEGIN SOLUTION -->" in found["s-second"]
    topic = written.parse(path)
    assert topic.title == "Sample topic"
    assert topic.questions["s-first"].context == ("Shared notation.",)
    assert topic.questions["s-second"].context == ("Shared notation.", "Context for the second question only.")


def test_assemble_keeps_questions_and_drops_answers(tmp_path):
    doc = written.assemble(sample_manifest(tmp_path, [("s-second", 2), ("s-first", 1)]))
    assert doc.startswith("# Sample course, assignment 0 — written questions")
    assert "### 2 Second (2 points)" in doc and "### 1 First (1 point)" in doc
    assert doc.index("### 2 Second") < doc.index("### 1 First")  # manifest order
    assert doc.count(MD_PLACEHOLDER) == 3
    assert "worked answer" not in doc and "successor" not in doc
    assert "<!--" not in doc
    assert doc.count("Shared notation.") == 1 and "## Sample topic" in doc
    key = written.answer_key(sample_manifest(tmp_path, [("s-first", 1), ("s-second", 2)]))
    assert "successor of one" in key and "(b) The second worked answer" in key and "<!--" not in key


def test_context_only_before_the_questions_that_follow_it(tmp_path):
    doc = written.assemble(sample_manifest(tmp_path, [("s-first", 1)]))
    assert "Context for the second question only." not in doc


@pytest.mark.parametrize("text, message", [
    (SAMPLE.replace("<!-- QUESTION s-second -->", "<!-- QUESTION s-first -->"), "duplicate question id"),
    (SAMPLE.replace("<!-- END QUESTION -->\n\nContext", "\nContext", 1), "has no END QUESTION"),
    (SAMPLE + "<!-- END QUESTION -->\n", "without a QUESTION"),
    (SAMPLE.replace("s-first", "S_First"), "lowercase words joined by hyphens"),
    (SAMPLE.replace("<!-- END SOLUTION -->\n<!-- END QUESTION -->\n\nContext", "<!-- END QUESTION -->\n\nContext"),
     "never closed"),
])
def test_malformed_topic_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(written.WrittenError, match=message):
        written.parse(path)


def test_unknown_and_repeated_ids_are_clear_errors(tmp_path):
    with pytest.raises(written.WrittenError, match="'s-third' is not in .*its questions: s-first, s-second"):
        written.assemble(sample_manifest(tmp_path, [("s-third", 1)]))
    with pytest.raises(written.WrittenError, match="listed twice"):
        written.assemble(sample_manifest(tmp_path, [("s-first", 1), ("s-first", 1)]))
    bad = manifests.Manifest(id="x", title="x", written=(manifests.Written("a", "written/no-such-topic.md", 1),))
    with pytest.raises(written.WrittenError, match="does not exist"):
        written.assemble(bad)


def test_question_ids_are_unique_across_written():
    written.all_topics()  # raises on a clash


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_manifest_written_ids_exist(assignment):
    manifest = manifests.load(assignment)
    for item in manifest.written:
        assert item.file.startswith("written/") and item.file.endswith(".md"), item
        assert item.id in written.questions(item.file), f"{assignment}: {item.id} not in {item.file}"
        assert item.points > 0, f"{assignment}: {item.id} has no points"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_document_has_no_answer_and_key_has_all(assignment):
    manifest = manifests.load(assignment)
    if not manifest.written:
        pytest.skip(f"{assignment} lists no written questions")
    doc, key = written.assemble(manifest), written.answer_key(manifest)
    doc_lines = {line.strip() for line in doc.splitlines()}
    key_lines = {line.strip() for line in key.splitlines()}
    answers = [line for line in written.solution_lines(manifest) if is_distinctive(line)]
    assert answers, f"{assignment}: its written questions have no worked answers"
    leaked = [line for line in answers if line.strip() in doc_lines]
    assert not leaked, f"{assignment}: answer lines in the students' document: {leaked[:3]}"
    missing = [line for line in answers if line.strip() not in key_lines]
    assert not missing, f"{assignment}: answer lines missing from the answer key: {missing[:3]}"
    assert "<!--" not in doc and "<!--" not in key
    for item in manifest.written:  # every question is there, with its points
        first = written.questions(item.file)[item.id].strip().splitlines()[0]
        assert first in doc, f"{assignment}: {item.id} missing from the document"


# --- the topic files render on GitHub ------------------------------------------------------------

INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$(?!\$)")


def math_problems(text: str) -> list[str]:
    """Constructs that GitHub's Markdown math renders wrongly (or not at all)."""
    problems: list[str] = []
    in_display = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("<!--"):
            continue
        if stripped == "$$":
            in_display = not in_display
            continue
        if in_display:
            continue
        if "$$" in stripped:
            problems.append(f"line {number}: put $$ alone on its line (display math)")
            continue
        body = re.sub(r"`[^`]*`", "", line)
        if (body.count("$") - body.count("\\$")) % 2:
            problems.append(f"line {number}: odd number of $ (unclosed inline math)")
        for match in INLINE.finditer(body):
            math = match.group(1)
            if math != math.strip():
                problems.append(f"line {number}: inline math must not start or end with a space: ${math}$")
            if "\\\\" in math:
                problems.append(f"line {number}: no line breaks (\\\\) in inline math")
            if re.search(r"\\[{}]", math):
                problems.append(f"line {number}: write \\lbrace/\\rbrace instead of \\{{ \\}} in inline math")
            elif re.search(r"\\[!-/:-@\[\]^_`|~]", math):  # Markdown may eat the backslash of \, \! \| ...
                problems.append(f"line {number}: no backslash before punctuation in inline math "
                                f"(write \\ , \\lVert, ...): ${math}$")
            if "*" in math:
                problems.append(f"line {number}: write \\star or \\ast instead of * in inline math: ${math}$")
            if re.search(r"<[A-Za-z/!]", math):
                problems.append(f"line {number}: put a space after < in inline math (it reads as HTML): ${math}$")
    if in_display:
        problems.append("a $$ display block is never closed")
    return problems


@pytest.mark.parametrize("path", TOPIC_FILES, ids=[p.name for p in TOPIC_FILES])
def test_topic_file_math_renders_on_github(path):
    problems = math_problems(path.read_text())
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", TOPIC_FILES, ids=[p.name for p in TOPIC_FILES])
def test_topic_file_questions_have_answers(path):
    for qid, text in written.questions(path).items():
        stripped = strip_markdown(text, f"{path.name}:{qid}")
        assert stripped.solution_lines, f"{path.name}: question {qid} has no worked answer"
        assert re.match(r"^#{2,6}\s", text.strip()), f"{path.name}: question {qid} must start with a heading"
