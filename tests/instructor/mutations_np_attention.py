"""Plausible mistakes in np_attention.py's multi-head attention; each must fail its public tests."""

from tests.instructor.mutation import Mutation

MHA = "multi_head_attention"
FILE = "np_attention.py"

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

MUTATIONS = [
    Mutation(MHA, FILE, "k_heads.transpose(0, 1, 3, 2) / math.sqrt(K)", "k_heads.transpose(0, 1, 3, 2)",
             "scores not scaled by 1/sqrt(d_k)"),
    Mutation(MHA, FILE, "k_heads.transpose(0, 1, 3, 2) / math.sqrt(K)", "k_heads.transpose(0, 1, 3, 2) / math.sqrt(D)",
             "scaled by 1/sqrt(D) (the full width) instead of the head width"),
    Mutation(MHA, FILE, "k_heads.transpose(0, 1, 3, 2) / math.sqrt(K)", "k_heads.transpose(0, 1, 3, 2) / np.sqrt(K)",
             "scale computed as a NumPy float64 scalar: float32 inputs give a float64 output",
             says="the output must keep the inputs' dtype"),
    Mutation(MHA, FILE, "weights = softmax(scores, axis=-1)", "weights = softmax(scores, axis=-2)",
             "softmax over the queries instead of the keys"),
    Mutation(MHA, FILE, "weights = softmax(scores, axis=-1)",
             "weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)",
             "softmax without the max shift (overflows on large scores)"),
    Mutation(MHA, FILE, "q_heads = (q @ self.params_q).reshape(B, T, H, K).transpose(0, 2, 1, 3)",
             "q_heads = (q @ self.params_q).reshape(B, H, T, K)",
             "heads split by reshaping (B, T, D) straight to (B, H, T, K), without the transpose"),
    Mutation(MHA, FILE, "concat = heads.transpose(0, 2, 1, 3).reshape(B, T, D)", "concat = heads.reshape(B, T, D)",
             "heads merged by a reshape without moving the head axis back"),
    Mutation(MHA, FILE, "out = concat @ self.param_out", "out = concat",
             "output projection W^O omitted"),
    Mutation(MHA, FILE, "k_heads = (k @ self.params_k)", "k_heads = (k @ self.params_q)",
             "keys projected with the query weights (copy-paste slip)"),
    Mutation(MHA, FILE, "v_heads = (v @ self.params_v)", "v_heads = (q @ self.params_v)",
             "values taken from the queries (only right when T == S and q is v)"),
]
