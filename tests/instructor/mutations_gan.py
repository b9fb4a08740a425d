"""Plausible mistakes in gan.py's graded code; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

FILE = "gan.py"
NS_D, NS_G = "loss_nonsaturating_d", "loss_nonsaturating_g"
CNS_D, CNS_G = "conditional_loss_nonsaturating_d", "conditional_loss_nonsaturating_g"
WGP_D, WGP_G = "loss_wasserstein_gp_d", "loss_wasserstein_gp_g"

MUTATIONS = [
    # CS 236: loss_nonsaturating_d
    Mutation(NS_D, FILE, "    return real_term + fake_term\n", "    return (real_term + fake_term) / 2\n",
             "the two means averaged instead of added"),
    Mutation(NS_D, FILE, "fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))",
             "fake_term = torch.log(1 - torch.sigmoid(fake_logits)).mean().neg()", "log(1 - sigmoid(h)) written out: inf at h = 50"),
    Mutation(NS_D, FILE, "real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))",
             "real_term = F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))", "real images labelled 0"),
    Mutation(NS_D, FILE, "fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))",
             "fake_term = -F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))",
             "the generator's non-saturating term used with the wrong sign in L_D"),
    # loss_nonsaturating_g
    Mutation(NS_G, FILE, "    return -F.logsigmoid(d(g(z))).mean()\n", "    return F.logsigmoid(-d(g(z))).mean()\n",
             "the saturating minimax loss log(1 - D(G(z)))"),
    Mutation(NS_G, FILE, "    return -F.logsigmoid(d(g(z))).mean()\n", "    return -torch.log(torch.sigmoid(d(g(z)))).mean()\n",
             "log(sigmoid(.)) written out: -inf at logit -200", says="log(sigmoid(-200)) is -inf"),
    Mutation(NS_G, FILE, "    return -F.logsigmoid(d(g(z))).mean()\n", "    return -F.logsigmoid(d(g(z))).sum()\n",
             "a sum over the batch instead of a mean"),
    # conditional_loss_nonsaturating_d
    Mutation(CNS_D, FILE, "fake_logits = d(g(z, y_fake).detach(), y_fake)  # (B,)",
             "fake_logits = d(g(z, y_fake).detach(), (y_fake + 1) % 10)  # (B,)",
             "generated images judged with other labels than the ones they were made for"),
    Mutation(CNS_D, FILE, "- F.logsigmoid(-fake_logits).mean()  # log(1 - s(h)) = log s(-h)",
             "- torch.log(1 - torch.sigmoid(fake_logits)).mean()", "log(1 - sigmoid(h)) written out"),
    Mutation(CNS_D, FILE, "return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
             "return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()) / 2", "the two means averaged"),
    # conditional_loss_nonsaturating_g
    Mutation(CNS_G, FILE, "    return -F.logsigmoid(d(g(z, y_fake), y_fake)).mean()\n",
             "    return F.logsigmoid(-d(g(z, y_fake), y_fake)).mean()\n", "the saturating minimax loss"),
    Mutation(CNS_G, FILE, "    return -F.logsigmoid(d(g(z, y_fake), y_fake)).mean()\n",
             "    return -F.logsigmoid(d(g(z, y_fake), torch.zeros_like(y_fake))).mean()\n", "every image judged as class 0"),
    Mutation(CNS_G, FILE, "    return -F.logsigmoid(d(g(z, y_fake), y_fake)).mean()\n",
             "    return -torch.log(torch.sigmoid(d(g(z, y_fake), y_fake))).mean()\n", "log(sigmoid(.)) written out",
             says="log(sigmoid(-200)) is -inf"),
    # loss_wasserstein_gp_d
    Mutation(WGP_D, FILE, "x_hat = (alpha * x_fake + (1 - alpha) * x_real).requires_grad_(True)",
             "x_hat = (alpha * x_real + (1 - alpha) * x_fake).requires_grad_(True)",
             "alpha on the real image (CSCD84's and IFT6135's order)"),
    Mutation(WGP_D, FILE, "return d(x_fake).mean() - d(x_real).mean() + GP_WEIGHT * penalty",
             "return d(x_real).mean() - d(x_fake).mean() + GP_WEIGHT * penalty", "critic sign flipped (scores real data low)"),
    Mutation(WGP_D, FILE, "penalty = ((grads.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()",
             "penalty = (grads.norm() - 1) ** 2", "one gradient norm over the whole batch"),
    Mutation(WGP_D, FILE, "x_hat, create_graph=True)  # row i", "x_hat, create_graph=False)  # row i",
             "no create_graph: the penalty does not train the critic"),
    Mutation(WGP_D, FILE, "return d(x_fake).mean() - d(x_real).mean() + GP_WEIGHT * penalty",
             "return d(x_fake).mean() - d(x_real).mean() + penalty", "lambda forgotten"),
    # loss_wasserstein_gp_g
    Mutation(WGP_G, FILE, "    return -d(g(z)).mean()\n", "    return d(g(z)).mean()\n", "sign flipped"),
    Mutation(WGP_G, FILE, "    return -d(g(z)).mean()\n", "    return -d(g(z).detach()).mean()\n", "no gradient to the generator"),
    Mutation(WGP_G, FILE, "    return -d(g(z)).mean()\n", "    return -d(g(z)).sum()\n", "a sum over the batch"),
]

# IFT6135: the GAN module
JSD, W1, OGP, R1GP = "jsd", "w1", "ogp", "r1gp"
LOSSES, EMA, STEP = "make_losses", "apply_exponential_moving_average", "make_train_step"
JSD_LINE = "return 0.5 * (F.logsigmoid(cp).mean() + F.logsigmoid(-cq).mean()) + math.log(2.0)"

MUTATIONS += [
    Mutation(JSD, FILE, JSD_LINE, "return 0.5 * (F.logsigmoid(cp).mean() + F.logsigmoid(-cq).mean())", "log 2 forgotten"),
    Mutation(JSD, FILE, JSD_LINE, "return 0.5 * (torch.log(torch.sigmoid(cp)).mean() + torch.log(1 - torch.sigmoid(cq)).mean()) + math.log(2.0)",
             "log(sigmoid(.)) written out: -inf at +-100"),
    Mutation(JSD, FILE, JSD_LINE, "return (F.logsigmoid(cp).mean() + F.logsigmoid(-cq).mean()) + math.log(2.0)",
             "no factor 1/2"),
    Mutation(JSD, FILE, JSD_LINE, "return 0.5 * (F.logsigmoid(cp).mean() + F.logsigmoid(cq).mean()) + math.log(2.0)",
             "sign of the generated samples' critic values"),
    Mutation(W1, FILE, "    return cp.mean() - cq.mean()\n", "    return cq.mean() - cp.mean()\n", "sign flipped"),
    Mutation(W1, FILE, "    return cp.mean() - cq.mean()\n", "    return (cp - cq).mean()\n",
             "difference of paired values (fails when the batches differ in size)"),
    Mutation(W1, FILE, "    return cp.mean() - cq.mean()\n", "    return cp.sum() - cq.sum()\n", "sums instead of means"),
    Mutation(OGP, FILE, "mixed = (eps * p.detach() + (1 - eps) * q.detach()).requires_grad_(True)",
             "mixed = (eps * q.detach() + (1 - eps) * p.detach()).requires_grad_(True)", "eps on the generated sample"),
    Mutation(OGP, FILE, "    return (norms - 1).pow(2).mean()\n", "    return norms.pow(2).mean()\n",
             "zero-centred instead of one-centred"),
    Mutation(OGP, FILE, "critic(mixed).sum(), mixed, create_graph=True)  # row i",
             "critic(mixed).sum(), mixed, create_graph=False)  # row i", "no create_graph: the penalty cannot train the critic"),
    Mutation(OGP, FILE, "norms = grads.reshape(len(p), -1).norm(dim=1)  # (N,)", "norms = grads.reshape(len(p), -1).abs().sum(dim=1)",
             "L1 norm of the gradient"),
    Mutation(R1GP, FILE, "return grads.reshape(len(x), -1).pow(2).sum(dim=1).mean()  # mean over N",
             "return grads.reshape(len(x), -1).norm(dim=1).mean()  # mean over N", "norm instead of squared norm"),
    Mutation(R1GP, FILE, "    x = p.detach().requires_grad_(True)\n", "    x = q.detach().requires_grad_(True)\n",
             "penalty on the generated samples"),
    Mutation(R1GP, FILE, "return grads.reshape(len(x), -1).pow(2).sum(dim=1).mean()  # mean over N",
             "return grads.reshape(len(x), -1).pow(2).mean()  # mean over N", "mean over the sample's entries too"),
    Mutation(R1GP, FILE, "(grads,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)\n    return grads",
             "(grads,) = torch.autograd.grad(critic(x).sum(), x)\n    return grads", "no create_graph"),
    Mutation(LOSSES, FILE, "        loss = -estimate(cp, cq)\n", "        loss = estimate(cp, cq)\n",
             "the critic minimises the metric instead of maximising it"),
    Mutation(LOSSES, FILE, "loss = loss + reg_cf * penalty(p, cp, q, cq, critic)", "loss = loss + penalty(p, cp, q, cq, critic)",
             "reg_cf ignored"),
    Mutation(LOSSES, FILE, 'penalty = {"GP": ogp, "R1": r1gp, None: None}[reg_type]',
             'penalty = {"GP": r1gp, "R1": ogp, None: None}[reg_type]', "GP and R1 swapped"),
    Mutation(LOSSES, FILE, "        return estimate(critic(p), critic(q))\n", "        return estimate(critic(q), critic(p))\n",
             "real and generated critic values swapped in the metric"),
    Mutation(EMA, FILE, "averaged.mul_(alpha).add_(current, alpha=1 - alpha)", "averaged.mul_(1 - alpha).add_(current, alpha=alpha)",
             "alpha and 1 - alpha swapped"),
    Mutation(EMA, FILE, "averaged.mul_(alpha).add_(current, alpha=1 - alpha)", "current.mul_(alpha).add_(averaged, alpha=1 - alpha)",
             "the source averaged instead of the target"),
    Mutation(EMA, FILE, "        for averaged, current in zip(target.parameters(), source.parameters()):\n"
             "            averaged.mul_(alpha).add_(current, alpha=1 - alpha)\n",
             "        for averaged, current in zip(target.parameters(), source.parameters()):\n"
             "            averaged.data = alpha * averaged.data + (1 - alpha) * current.data\n",
             "new tensors assigned instead of an in-place update", says="not by assigning new tensors"),
    Mutation(STEP, FILE, "        generator_metric = metric(p, generator(), critic)  # p: the last real batch\n",
             "        p = next(train_data_iter)\n        generator_metric = metric(p, generator(), critic)\n",
             "a new real batch drawn for the generator update"),
    Mutation(STEP, FILE, "            apply_exponential_moving_average(generator, test_generator, alpha_ema)",
             "            apply_exponential_moving_average(test_generator, generator, alpha_ema)", "EMA arguments swapped"),
    Mutation(STEP, FILE, "        for _ in range(critic_inner_iters):\n", "        for _ in range(1):\n",
             "one critic update whatever critic_inner_iters"),
    Mutation(STEP, FILE, "            critic_optim.zero_grad()\n", "",
             "critic gradients never cleared: they pile up over the inner updates"),
    Mutation(STEP, FILE, "generator_metric = metric(p, generator(), critic)  # p", "generator_metric = -metric(p, generator(), critic)  # p",
             "the generator maximises the metric"),
]
