"""Plausible mistakes in flow_network.py's graded flows; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

FORWARD, INVERSE, LOG_PROBS = "made_forward", "made_inverse", "maf_log_probs"
PLANAR, LOGDET, LOSS1, LOSS2 = "planar_transformation", "get_logdet", "loss1", "loss2"
FILE = "flow_network.py"

MUTATIONS = [
    # MADE.forward
    Mutation(FORWARD, FILE, "x_i = mu[:, i] + z[:, i] * torch.exp(alpha[:, i])", "x_i = mu[:, i] + z[:, i] * alpha[:, i]",
             "log standard deviation used as the standard deviation"),
    Mutation(FORWARD, FILE, "log_det = alpha.sum(dim=1)  # (B,)\n        return x, log_det",
             "log_det = -alpha.sum(dim=1)  # (B,)\n        return x, log_det",
             "log-det of the other direction (sign flipped)"),
    Mutation(FORWARD, FILE, "log_det = alpha.sum(dim=1)  # (B,)\n        return x, log_det",
             "log_det = alpha.sum()  # (B,)\n        return x, log_det", "log-det summed over the batch"),
    Mutation(FORWARD, FILE, "mu, alpha = self.net(x).chunk(2, dim=1)  # (B, D) each; column i",
             "mu, alpha = self.net(z).chunk(2, dim=1)  # (B, D) each; column i",
             "mu and alpha computed from z instead of the x found so far (one pass, wrong direction)"),
    Mutation(FORWARD, FILE, "mu, alpha = self.net(x).chunk(2, dim=1)  # (B, D) each; column i",
             "alpha, mu = self.net(x).chunk(2, dim=1)  # (B, D) each; column i",
             "mu and alpha halves of the network's output swapped"),
    # MADE.inverse
    Mutation(INVERSE, FILE, "z = (x - mu) * torch.exp(-alpha)", "z = (x - mu) * torch.exp(alpha)",
             "multiplies by the standard deviation instead of dividing"),
    Mutation(INVERSE, FILE, "z = (x - mu) * torch.exp(-alpha)", "z = (x - mu) / alpha",
             "log standard deviation used as the standard deviation"),
    Mutation(INVERSE, FILE, "log_det = -alpha.sum(dim=1)  # (B,)", "log_det = alpha.sum(dim=1)  # (B,)",
             "log-det sign flipped (log|det dx/dz| instead of log|det dz/dx|)"),
    Mutation(INVERSE, FILE, "log_det = -alpha.sum(dim=1)  # (B,)", "log_det = -alpha.sum()  # (B,)",
             "log-det summed over the batch instead of per example"),
    # MAF.log_probs
    Mutation(LOG_PROBS, FILE, "return (log_base + log_det).mean()", "return log_det.mean()", "base density missing"),
    Mutation(LOG_PROBS, FILE, "return (log_base + log_det).mean()", "return (log_base - log_det).mean()",
             "log-det subtracted (sign flipped)"),
    Mutation(LOG_PROBS, FILE, "return (log_base + log_det).mean()", "return (log_base + log_det).sum()",
             "summed over the batch instead of the mean"),
    Mutation(LOG_PROBS, FILE, "for flow in self.nf:\n            x, step_log_det", "for flow in reversed(self.nf):\n            x, step_log_det",
             "blocks inverted in the sampling order"),
    Mutation(LOG_PROBS, FILE, "log_base = self.base_dist.log_prob(x).sum(dim=1)", "log_base = self.base_dist.log_prob(x).mean(dim=1)",
             "base log-density averaged over the coordinates instead of summed"),
    # PlanarTransformation.forward
    Mutation(PLANAR, FILE, "u = self.constrained_u()  # (1, D)\n        return z + u",
             "u = self.u  # (1, D)\n        return z + u", "invertibility constraint dropped (raw u)"),
    Mutation(PLANAR, FILE, "return z + u * torch.tanh(z @ self.w.T + self.b)", "return z + u * (z @ self.w.T + self.b)",
             "h missing (a linear map instead of tanh)"),
    Mutation(PLANAR, FILE, "return z + u * torch.tanh(z @ self.w.T + self.b)", "return z + u * torch.tanh(z @ self.w.T)",
             "bias b left out"),
    Mutation(PLANAR, FILE, "return z + u * torch.tanh(z @ self.w.T + self.b)", "return u * torch.tanh(z @ self.w.T + self.b)",
             "the identity term z left out"),
    # PlanarTransformation.get_logdet
    Mutation(LOGDET, FILE, "u = self.constrained_u()  # (1, D)\n        slope", "u = self.u  # (1, D)\n        slope",
             "invertibility constraint dropped (raw u)"),
    Mutation(LOGDET, FILE, "slope = 1 - torch.tanh(z @ self.w.T + self.b) ** 2", "slope = 1 - torch.tanh(z @ self.w.T + self.b)",
             "h' written as 1 - tanh instead of 1 - tanh^2"),
    Mutation(LOGDET, FILE, "return torch.log(torch.abs(1 + psi @ u.T) + eps)  # (B, 1)",
             "return -torch.log(torch.abs(1 + psi @ u.T) + eps)  # (B, 1)", "log-det sign flipped"),
    Mutation(LOGDET, FILE, "return torch.log(torch.abs(1 + psi @ u.T) + eps)  # (B, 1)",
             "return torch.log(torch.abs(1 + psi @ u.T) + eps).sum()  # (B, 1)", "summed over the batch"),
    Mutation(LOGDET, FILE, "return torch.log(torch.abs(1 + psi @ u.T) + eps)  # (B, 1)",
             "return torch.log(torch.abs(1 + psi @ u.T) + eps)[:, 0]  # (B, 1)", "shape (B,) instead of (B, 1)"),
    # loss1
    Mutation(LOSS1, FILE, "    return -(log_base + logdet)\n", "    return -(log_base - logdet)\n", "log-det sign flipped"),
    Mutation(LOSS1, FILE, "    return -(log_base + logdet)\n", "    return -logdet\n", "base density missing"),
    Mutation(LOSS1, FILE, "    return -(log_base + logdet)\n", "    return -(log_base + logdet).mean()\n",
             "averaged over the batch instead of per example"),
    Mutation(LOSS1, FILE, "    return -(log_base + logdet)\n", "    return log_base + logdet\n",
             "the log-likelihood instead of its negative"),
    # loss2
    Mutation(LOSS2, FILE, "return log_base - logdet + target_density[:, None]", "return -logdet + target_density[:, None]",
             "base density missing (not a KL any more)"),
    Mutation(LOSS2, FILE, "return log_base - logdet + target_density[:, None]", "return log_base + logdet + target_density[:, None]",
             "log-det sign flipped"),
    Mutation(LOSS2, FILE, "return log_base - logdet + target_density[:, None]", "return log_base - logdet - target_density[:, None]",
             "energy treated as a log-density (sign flipped)"),
    Mutation(LOSS2, FILE, "return log_base - logdet + target_density[:, None]", "return log_base - logdet + target_density",
             "energy (B,) broadcast against (B, 1) into a (B, B) matrix"),
]
