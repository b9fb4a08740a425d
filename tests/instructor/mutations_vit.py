"""Plausible mistakes in vit.py's two graded forward passes; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

ENCODER = "transformer_encoder"
VIT = "vision_transformer"
FILE = "vit.py"

PRE_LN = (
    "h = self.ln_1(x)  # (B, T, D)\n"
    "        attended, _ = self.attention(h, h, h)  # (B, T, D)\n"
    "        x = x + attended  # residual around the attention\n"
    "        h = self.ln_2(x)  # (B, T, D)\n"
    "        x = x + self.mlp_2(F.gelu(self.mlp_1(h)))"
)
POST_LN = (
    "attended, _ = self.attention(x, x, x, need_weights=False)\n"
    "        x = self.ln_1(x + attended)\n"
    "        x = self.ln_2(x + self.mlp_2(F.gelu(self.mlp_1(x))))"
)
ATTENTION_CALL = "attended, _ = self.attention(h, h, h)"
CLS_THEN_POSITIONS = (
    "tokens = torch.cat([cls_token, tokens], dim=1)  # (B, T, D), class token first\n"
    "        tokens = tokens + self.pos_encoding"
)

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

MUTATIONS = [
    # TransformerEncoder.forward
    Mutation(ENCODER, FILE, PRE_LN, POST_LN, "post-LN (the original transformer) instead of pre-LN"),
    Mutation(ENCODER, FILE, "x = x + attended", "x = attended", "no residual connection around the attention"),
    Mutation(ENCODER, FILE, "x = x + self.mlp_2(", "x = self.mlp_2(", "no residual connection around the MLP"),
    Mutation(ENCODER, FILE, "F.gelu(self.mlp_1(h))", "F.relu(self.mlp_1(h))", "ReLU instead of GELU"),
    Mutation(ENCODER, FILE, "F.gelu(self.mlp_1(h))", "F.gelu(self.mlp_1(h), approximate='tanh')",
             "the tanh approximation of GELU instead of the exact one"),
    Mutation(ENCODER, FILE, "h = self.ln_2(x)", "h = self.ln_1(x)", "ln_1 reused before the MLP instead of ln_2"),
    Mutation(ENCODER, FILE, "self.attention(h, h, h)", "self.attention(h, x, x)",
             "keys and values taken from the un-normalised tokens"),
    Mutation(ENCODER, FILE, ATTENTION_CALL,
             "attended, _ = self.attention(h.transpose(0, 1), h.transpose(0, 1), h.transpose(0, 1), need_weights=False)\n"
             "        attended = attended.transpose(0, 1)",
             "sequence-first input to a batch-first attention: attends across the batch"),
    # VisionTransformer.forward
    Mutation(VIT, FILE, "torch.cat([cls_token, tokens], dim=1)", "torch.cat([tokens, cls_token], dim=1)",
             "class token appended after the patches instead of in front"),
    Mutation(VIT, FILE, "tokens = tokens + self.pos_encoding  #", "tokens = tokens  #", "position encodings omitted"),
    Mutation(VIT, FILE, CLS_THEN_POSITIONS,
             "tokens = tokens + self.pos_encoding[:, 1:]\n        tokens = torch.cat([cls_token, tokens], dim=1)",
             "positions added to the patches before the class token is prepended (class token gets none)"),
    Mutation(VIT, FILE, CLS_THEN_POSITIONS,
             "tokens = tokens + self.pos_encoding[:, :-1]\n        tokens = torch.cat([cls_token, tokens], dim=1)",
             "positions added before prepending the class token, shifted by one"),
    Mutation(VIT, FILE, "return self.transformer_blocks(tokens)", "return tokens", "transformer blocks not applied"),
    Mutation(VIT, FILE, "return self.transformer_blocks(tokens)", "return self.transformer_blocks[0](tokens)",
             "only the first transformer block applied"),
    Mutation(VIT, FILE, "            tokens = x  # (B, N, D)\n",
             "            tokens = x  # (B, N, D)\n            cls_token = self.cls_token.expand(len(x), -1, -1)\n",
             "the stored class token used even when one is given"),
    Mutation(VIT, FILE, "self.linear_proj(patchify(x))", "self.linear_proj(x.reshape(len(x), NUM_PATCHES, PATCH_DIM))",
             "patches made by a plain reshape (strips of 49 pixels) instead of patchify"),
]
