"""The written parts of cs446-sp24, cs236-hw3 and ift6135-a3: every listed id parses, the documents
assemble, the points are the handouts' and every question of their topic files is used."""

from __future__ import annotations

import pytest

from instructor import manifest as manifests
from instructor import written

# Points printed in each handout for the questions the kit lists, in manifest order.
HANDOUT_POINTS = {
    "cs446-sp24": [2, 2, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1],  # sections 1, 2, 3
    "cs236-hw3": [5, 5, 10, 5, 5, 5, 10, 5, 5, 5, 5],  # 1.4, 2.1, 3.1-3.4, 4.1, 5.1-5.4
    "ift6135-a3": [15, 15, 15, 25, 2, 4, 2, 4, 2, 4],  # 1.6, 1.7, 2.6, 2.7, 3.2, 3.3, 3.5, 3.7, 3.9, 3.10
}
TOPICS = ["gan_js", "diffusion", "contrastive", "maf", "gan_losses", "wasserstein_dirac", "flows",
          "vae_report", "gan_experiments"]


@pytest.mark.parametrize("assignment", sorted(HANDOUT_POINTS))
def test_listed_questions_parse_and_assemble(assignment):
    manifest = manifests.load(assignment)
    assert [item.points for item in manifest.written] == HANDOUT_POINTS[assignment]
    for item in manifest.written:
        assert item.id in written.questions(item.file), f"{assignment}: {item.id} not in {item.file}"
    doc, key = written.assemble(manifest), written.answer_key(manifest)
    assert doc.count("*Your answer here.*") >= len(manifest.written)
    assert "Note for instructors" not in doc and "Grading" not in doc  # both live inside the answers
    assert "Note for instructors" in key


def test_every_question_of_these_topics_is_used():
    used = {item.id for name in HANDOUT_POINTS for item in manifests.load(name).written}
    for topic in TOPICS:
        for qid in written.questions(f"written/{topic}.md"):
            assert qid in used, f"written/{topic}.md: {qid} is not listed by any of {sorted(HANDOUT_POINTS)}"
