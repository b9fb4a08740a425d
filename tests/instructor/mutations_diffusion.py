"""Plausible mistakes in diffusion.py's graded functions; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

NET = "score_net"
LOSS = "compute_denoising_loss"
LANGEVIN = "langevin_dynamics_sample"
CONDITIONAL = "conditional_score"

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

MUTATIONS = [
    Mutation(NET, "diffusion.py", "layers.append(nn.Softplus())", "layers.append(nn.ReLU())",
             "ReLU instead of Softplus"),
    Mutation(NET, "diffusion.py", "[latent_dim] * (n_layers - 1)", "[latent_dim] * n_layers",
             "one linear layer too many (9 for the handout's 8)"),
    Mutation(NET, "diffusion.py", "self.net = nn.Sequential(*layers)", "self.net = nn.Sequential(*layers, nn.Softplus())",
             "Softplus after the last layer too: scores can only be positive"),
    Mutation(NET, "diffusion.py", "if layers:\n", "if len(layers) > 1:\n",
             "no activation after the first linear layer"),
    Mutation(LOSS, "diffusion.py", "(0.5 * sigma**2 * squared).mean()", "(0.5 * squared).mean()",
             "lambda = 1 instead of sigma^2"),
    Mutation(LOSS, "diffusion.py", "(0.5 * sigma**2 * squared).mean()", "(0.5 * sigma**2 * squared).sum()",
             "sum over the batch instead of the mean"),
    Mutation(LOSS, "diffusion.py", "(0.5 * sigma**2 * squared).mean()", "(sigma**2 * squared).mean()",
             "the factor 1/2 forgotten"),
    Mutation(LOSS, "diffusion.py", "/ sigma**2  # score of", "/ sigma  # score of",
             "(x~ - x) / sigma instead of / sigma^2"),
    Mutation(LOSS, "diffusion.py", "sigma = sigmas[sigma_index].unsqueeze(1)",
             "sigma = sigmas[sigma_index[:1]].unsqueeze(1)", "one level for the whole batch"),
    Mutation(LOSS, "diffusion.py", "squared = ((scorenet(perturbed, sigma) - kernel_score)",
             "squared = ((scorenet(perturbed, sigma).detach() - kernel_score)", "the score detached: nothing trains"),
    Mutation(LANGEVIN, "diffusion.py", "alpha = eps * sigma**2 / sigmas[-1] ** 2", "alpha = eps * torch.ones_like(sigma)",
             "step size not annealed"),
    Mutation(LANGEVIN, "diffusion.py", "for sigma in sigmas:  # largest level first",
             "for sigma in sigmas.flip(0):  # largest level first", "sigma levels in the wrong order"),
    Mutation(LANGEVIN, "diffusion.py", "torch.sqrt(2 * alpha) * z", "torch.sqrt(alpha) * z",
             "noise sqrt(alpha) instead of sqrt(2 alpha)"),
    Mutation(LANGEVIN, "diffusion.py", "alpha = eps * sigma**2 / sigmas[-1] ** 2", "alpha = eps * sigma**2 / sigmas[0] ** 2",
             "sigma_L taken as the largest level"),
    Mutation(LANGEVIN, "diffusion.py", "x = x + alpha * scorenet(x, sigma) +", "x = x + alpha * scorenet(x, sigmas[-1]) +",
             "the score always evaluated at the smallest level"),
    Mutation(LANGEVIN, "diffusion.py", "    trajectory = []\n", "    trajectory = [x]\n",
             "the trajectory starts with the initial points (L*T + 1 entries)"),
    Mutation(CONDITIONAL, "diffusion.py", "scorenet(x, sigma) - weight * (x - x_known) * mask",
             "scorenet(x, sigma) + weight * (x - x_known) * mask", "observations push away instead of pulling"),
    Mutation(CONDITIONAL, "diffusion.py", "scorenet(x, sigma) - weight * (x - x_known) * mask",
             "scorenet(x, sigma) - weight * (x - x_known)", "the mask forgotten: every coordinate pulled"),
    Mutation(CONDITIONAL, "diffusion.py", "scorenet(x, sigma) - weight * (x - x_known) * mask",
             "scorenet(x, sigma) - 2 * (x - x_known) * mask", "the weight ignored (always the handout's 2)"),
    Mutation(CONDITIONAL, "diffusion.py", "scorenet(x, sigma) - weight * (x - x_known) * mask",
             "scorenet(x, sigma) - weight * (x - x_known) * (1 - mask)", "the mask inverted"),
]
