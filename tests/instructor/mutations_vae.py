"""Plausible mistakes in vae.py's graded functions; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

F = "vae.py"
FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake
BERN_LINE = "return (torch.xlogy(target, mu) + torch.xlogy(1 - target, 1 - mu)).sum(dim=1)  # (B,)"
NORMAL_LINE = "return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(dim=1)  # (B,)"
LME_LINE = "return torch.log(torch.exp(y - shift).mean(dim=1)) + shift.squeeze(1)  # (B,)"
KL_LINE = "return 0.5 * (logvar_p - logvar_q + ratio + distance - 1).sum(dim=1)  # (B,)"
GAUSS_LINE = "return -0.5 * (torch.log(2 * math.pi * sigma_square) + (z - mu) ** 2 / sigma_square).sum(dim=1)  # (B,)"
PDF_LINE = "return (torch.xlogy(x, p) + torch.xlogy(1 - x, 1 - p)).sum(dim=1)  # (B,)"
SAMPLE_LINE = "return mu + torch.sqrt(sigma_square) * torch.randn_like(mu)  # (B, Z)"
ELBO_LINE = "return (log_px_z + log_pz - log_qz_x).mean()"

MUTATIONS = [
    # log_likelihood_bernoulli
    Mutation("log_likelihood_bernoulli", F, BERN_LINE,
             "return (target * torch.log(mu) + (1 - target) * torch.log(1 - mu)).sum(dim=1)",
             "the plain formula: 0 * log 0 gives NaN at saturated means"),
    Mutation("log_likelihood_bernoulli", F, BERN_LINE,
             "return (torch.xlogy(target, mu) + torch.xlogy(1 - target, 1 - mu)).mean(dim=1)",
             "mean over pixels instead of the sum"),
    Mutation("log_likelihood_bernoulli", F, BERN_LINE,
             "return (torch.xlogy(mu, target) + torch.xlogy(1 - mu, 1 - target)).sum(dim=1)",
             "parameter and observation swapped"),
    Mutation("log_likelihood_bernoulli", F, "mu, target = mu.reshape(batch, -1), target.reshape(batch, -1)  # (B, D)",
             "mu, target = mu.reshape(-1, mu.shape[-1]), target.reshape(-1, target.shape[-1])",
             "flattened over the last dimension only: image inputs give too many rows"),
    # log_likelihood_normal
    Mutation("log_likelihood_normal", F, NORMAL_LINE,
             "return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-0.5 * logvar)).sum(dim=1)",
             "divides by the standard deviation instead of the variance"),
    Mutation("log_likelihood_normal", F, NORMAL_LINE,
             "return -0.5 * (logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(dim=1)",
             "the normalising constant log 2 pi forgotten"),
    Mutation("log_likelihood_normal", F, NORMAL_LINE,
             "return torch.log(torch.exp(-0.5 * (z - mu) ** 2 / torch.exp(logvar))"
             " / torch.sqrt(2 * math.pi * torch.exp(logvar))).sum(dim=1)",
             "the density first, then its log: -inf at log-variance -30"),
    Mutation("log_likelihood_normal", F, NORMAL_LINE, "return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar).sum(dim=1)",
             "log-variance used as the variance"),
    # log_mean_exp
    Mutation("log_mean_exp", F, LME_LINE, "return torch.log(torch.exp(y).mean(dim=1))",
             "no max shift: overflows at 1000"),
    Mutation("log_mean_exp", F, LME_LINE, "return torch.log(torch.exp(y - shift).sum(dim=1)) + shift.squeeze(1)",
             "log-sum-exp: the 1/K forgotten"),
    Mutation("log_mean_exp", F, "shift = y.max(dim=1, keepdim=True).values  # (B, 1)",
             "shift = y.max(dim=0, keepdim=True).values", "maximum over the batch instead of over the samples"),
    # kl_gaussian_gaussian_analytic
    Mutation("kl_gaussian_gaussian_analytic", F,
             "mu_q, logvar_q, mu_p, logvar_p = (t.reshape(batch, -1) for t in (mu_q, logvar_q, mu_p, logvar_p))\n"
             "    ratio",
             "mu_p, logvar_p, mu_q, logvar_q = (t.reshape(batch, -1) for t in (mu_q, logvar_q, mu_p, logvar_p))\n"
             "    ratio", "KL(p || q) instead of KL(q || p)"),
    Mutation("kl_gaussian_gaussian_analytic", F, KL_LINE,
             "return 0.5 * (logvar_p - logvar_q + ratio + distance).sum(dim=1)", "the -1 per dimension forgotten"),
    Mutation("kl_gaussian_gaussian_analytic", F, KL_LINE,
             "return 0.5 * (torch.log(torch.exp(logvar_p).prod(dim=1) / torch.exp(logvar_q).prod(dim=1))"
             " + (ratio + distance - 1).sum(dim=1))", "the determinant form: overflows at log-variance 30"),
    Mutation("kl_gaussian_gaussian_analytic", F, "ratio = torch.exp(logvar_q - logvar_p)  # sigma_q^2 / sigma_p^2, (B, D)",
             "ratio = torch.exp(0.5 * (logvar_q - logvar_p))", "ratio of standard deviations instead of variances"),
    # kl_gaussian_gaussian_mc
    Mutation("kl_gaussian_gaussian_mc", F, "z = mu_q + torch.exp(0.5 * logvar_q) * noise  # (B, K, D)",
             "z = mu_q + torch.exp(logvar_q) * noise", "the variance used as the standard deviation"),
    Mutation("kl_gaussian_gaussian_mc", F, "return (log_q - log_p).mean(dim=1)  # (B,)",
             "return (log_q - log_p).sum(dim=1)", "sum over the samples instead of the mean"),
    Mutation("kl_gaussian_gaussian_mc", F, "z = mu_q + torch.exp(0.5 * logvar_q) * noise  # (B, K, D)",
             "z = (mu_q + torch.exp(0.5 * logvar_q) * noise).detach()", "samples detached: no reparameterisation"),
    Mutation("kl_gaussian_gaussian_mc", F, "return (log_q - log_p).mean(dim=1)  # (B,)",
             "return (log_p - log_q).mean(dim=1)", "KL(p || q) sign: log p - log q"),
    # decoder
    Mutation("decoder", F, "return torch.sigmoid(self.fc2(torch.tanh(self.fc1(z))))  # (B, D)",
             "return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))", "ReLU instead of tanh"),
    Mutation("decoder", F, "return torch.sigmoid(self.fc2(torch.tanh(self.fc1(z))))  # (B, D)",
             "return self.fc2(torch.tanh(self.fc1(z)))", "logits returned: the sigmoid forgotten"),
    Mutation("decoder", F, "self.fc1 = nn.Linear(latent_dimension, hidden_units)\n        self.fc2 = nn.Linear(hidden_units, data_dimension)",
             "self.fc2 = nn.Linear(hidden_units, data_dimension)\n        self.fc1 = nn.Linear(latent_dimension, hidden_units)",
             "layers defined out of the handout's order"),
    Mutation("decoder", F, "self.fc1 = nn.Linear(latent_dimension, hidden_units)\n        self.fc2 = nn.Linear(hidden_units, data_dimension)",
             "self.fc1 = nn.Linear(latent_dimension, hidden_units, bias=False)\n        self.fc2 = nn.Linear(hidden_units, data_dimension)",
             "first layer without a bias"),
    # logpdf_diagonal_gaussian
    Mutation("logpdf_diagonal_gaussian", F, GAUSS_LINE,
             "return -0.5 * (torch.log(2 * math.pi * sigma_square ** 2) + (z - mu) ** 2 / sigma_square ** 2).sum(dim=1)",
             "sigma_square used as the standard deviation"),
    Mutation("logpdf_diagonal_gaussian", F, GAUSS_LINE,
             "return -0.5 * (torch.log(2 * math.pi * sigma_square) + (z - mu) ** 2 / sigma_square).mean(dim=1)",
             "mean over latent dimensions instead of the sum"),
    Mutation("logpdf_diagonal_gaussian", F, GAUSS_LINE,
             "return -(torch.log(2 * math.pi * sigma_square) + (z - mu) ** 2 / sigma_square).sum(dim=1)",
             "the factor 1/2 forgotten"),
    # logpdf_bernoulli
    Mutation("logpdf_bernoulli", F, PDF_LINE, "return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1)",
             "the plain formula: NaN where the sigmoid saturates"),
    Mutation("logpdf_bernoulli", F, PDF_LINE, "return (torch.xlogy(x, p) + torch.xlogy(1 - x, 1 - p)).mean(dim=1)",
             "mean over pixels instead of the sum"),
    Mutation("logpdf_bernoulli", F, PDF_LINE, "return (torch.xlogy(x, p) + torch.xlogy(x, 1 - p)).sum(dim=1)",
             "the zero pixels' term uses x instead of 1 - x"),
    # sample_diagonal_gaussian
    Mutation("sample_diagonal_gaussian", F, SAMPLE_LINE, "return mu + sigma_square * torch.randn_like(mu)",
             "variance used as the standard deviation"),
    Mutation("sample_diagonal_gaussian", F, SAMPLE_LINE,
             "return (mu + torch.sqrt(sigma_square) * torch.randn_like(mu)).detach()", "sample detached from mu and sigma"),
    Mutation("sample_diagonal_gaussian", F, SAMPLE_LINE, "return mu + torch.sqrt(sigma_square) * torch.randn_like(mu[:1])",
             "one noise vector shared by the whole batch"),
    Mutation("sample_diagonal_gaussian", F, SAMPLE_LINE, "return mu + torch.exp(0.5 * sigma_square) * torch.randn_like(mu)",
             "sigma_square taken for a log-variance"),
    # sample_Bernoulli
    Mutation("sample_Bernoulli", F, "return torch.bernoulli(p)  # (B, D)", "return (torch.rand_like(p) > p).to(p.dtype)",
             "ones with probability 1 - p"),
    Mutation("sample_Bernoulli", F, "return torch.bernoulli(p)  # (B, D)", "return torch.round(p)",
             "rounding the probabilities: no randomness"),
    Mutation("sample_Bernoulli", F, "return torch.bernoulli(p)  # (B, D)", "return torch.rand_like(p) < p",
             "a boolean tensor instead of floats"),
    # elbo_loss
    Mutation("elbo_loss", F, ELBO_LINE, "return (log_px_z + log_pz - log_qz_x).sum()", "sum over the batch instead of the mean"),
    Mutation("elbo_loss", F, ELBO_LINE, "return (log_px_z + log_pz + log_qz_x).mean()", "+ log q instead of - log q"),
    Mutation("elbo_loss", F, ELBO_LINE, "return (log_px_z - log_qz_x).mean()", "the prior term forgotten"),
    Mutation("elbo_loss", F, ELBO_LINE, "return -(log_px_z + log_pz - log_qz_x).mean()",
             "returns the negative ELBO: the handout's elbo is maximised"),
]
