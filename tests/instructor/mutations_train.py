"""Plausible mistakes in train.py's graded functions; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

GP = "compute_gradient_penalty"
WGAN = "train_step_wgan"

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

MUTATIONS = [
    Mutation(GP, "train.py", "mix * real_images + (1 - mix) * fake_images",
             "mix * fake_images + (1 - mix) * real_images", "eps weights the fake image (CS236's order)"),
    Mutation(GP, "train.py", "gradients.flatten(start_dim=1).norm(p=2, dim=1)", "gradients.norm(p=2)",
             "one norm over the whole batch instead of per example"),
    Mutation(GP, "train.py", "((norms - 1) ** 2).mean()", "((norms ** 2 - 1) ** 2).mean()",
             "squared gradient norm instead of the norm"),
    Mutation(GP, "train.py", "interpolates, create_graph=True)", "interpolates, create_graph=False)",
             "gradient without create_graph: the penalty cannot train the critic"),
    Mutation(GP, "train.py", "norms = gradients.flatten(start_dim=1).norm(p=2, dim=1)  # (B,)",
             "norms = torch.zeros(len(gradients))\n"
             "    for n in range(len(gradients)):\n"
             "        norms[n] = gradients[n].norm(p=2)",
             "norms collected in a new float32 tensor: float64 images give a float32 penalty",
             says="the output must keep the inputs' dtype"),
    Mutation(GP, "train.py", "((norms - 1) ** 2).mean()", "((norms - 1) ** 2).sum()",
             "sum over the batch where the handout takes the mean"),
    Mutation(GP, "train.py", "scores = model.discriminate(interpolates)  # (B, 1)\n",
             "scores = model.discriminate(fake_images.detach().requires_grad_(True))\n"
             "    interpolates = fake_images\n", "penalty on the fake images instead of the interpolates"),
    Mutation(WGAN, "train.py", "disc_loss = real_scores.mean() - fake_scores.mean()",
             "disc_loss = fake_scores.mean() - real_scores.mean()", "critic sign flipped (Gulrajani's convention)"),
    Mutation(WGAN, "train.py", "gen_loss = scores.mean()", "gen_loss = -scores.mean()",
             "generator maximises the critic's score"),
    Mutation(WGAN, "train.py", "fake_scores, real_scores = scores[:size], scores[size:]",
             "real_scores, fake_scores = scores[:size], scores[size:]", "real and fake halves swapped"),
    Mutation(WGAN, "train.py", "disc_loss = real_scores.mean() - fake_scores.mean()",
             "disc_loss = real_scores.sum() - fake_scores.sum()", "sum over the batch instead of the mean"),
]
