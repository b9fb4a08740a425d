"""Plausible mistakes in flow_network.py's graded flows; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

FORWARD, INVERSE, LOG_PROBS = "made_forward", "made_inverse", "maf_log_probs"
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
]
