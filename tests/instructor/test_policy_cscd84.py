"""cscd84-a4's import policy: the NumPy attention may import NumPy only."""

from __future__ import annotations

from instructor import ROOT, manifest, policy


def _violations(file: str, source: str) -> list:
    kit = manifest.load("cscd84-a4")
    allowed = policy.allowed_for(kit, file, (ROOT / file).read_text())
    return policy.check_source(file, source, allowed=allowed, kit_modules=policy.kit_modules(list(kit.files)))


def test_reference_files_pass_the_policy():
    for file in manifest.load("cscd84-a4").submit:
        assert not _violations(file, (ROOT / file).read_text()), file


def test_torch_in_the_numpy_attention_is_refused():
    source = (ROOT / "np_attention.py").read_text() + "\nimport torch\n"
    assert any("torch" in str(v) for v in _violations("np_attention.py", source))


def test_torch_in_vit_is_allowed():
    assert not _violations("vit.py", (ROOT / "vit.py").read_text() + "\nimport torch.nn\n")
