"""Correct solutions written differently from the reference pass every public test of their task.

The mutation checks show that the public tests catch mistakes; these show that they do not
over-fit the reference solution (its loop structure, its choice of ops, its internals).
Each alternative replaces the bodies of a task's solution blocks, in order.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import pytest

from tests.instructor.mutation import run_edited_copy


@dataclass(frozen=True)
class Alternative:
    task: str
    file: str
    bodies: tuple[str, ...]  # one per solution block of the task, in file order
    how: str


ALTERNATIVES = [
    Alternative("compute_gradient_penalty", "train.py", ('''
        penalties = []
        for n in range(real_images.shape[0]):  # one example at a time
            point = eps[n] * real_images[n] + (1 - eps[n]) * fake_images[n]
            point = point.unsqueeze(0).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(model.discriminate(point).sum(), point, create_graph=True)
            penalties.append((torch.sqrt(torch.sum(grad ** 2)) - 1) ** 2)
        return torch.stack(penalties).mean()
    ''',), "a loop over examples with an explicit square root"),
    Alternative("compute_gradient_penalty", "train.py", ('''
        x_hat = torch.lerp(fake_images, real_images, eps)  # fake + eps (real - fake)
        x_hat.requires_grad_(True)
        out = model.discriminate(x_hat)
        grad = torch.autograd.grad(out, x_hat, grad_outputs=torch.ones_like(out), create_graph=True)[0]
        return torch.mean((torch.linalg.vector_norm(grad.reshape(len(grad), -1), dim=1) - 1) ** 2)
    ''',), "torch.lerp and grad_outputs instead of a sum"),
    Alternative("train_step_wgan", "train.py", (
        "disc_loss = (real_scores.sum() - fake_scores.sum()) / real_scores.numel()",
        "gen_loss = torch.mean(scores)",
    ), "sums divided by the count"),
    Alternative("dcgan_dnet", "dcgan.py", ('''
        self.net = nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(200, 1),
        )
    ''', "return self.net(x)"), "one nn.Sequential holding the table (a Flatten module in it)"),
    Alternative("dcgan_gnet", "dcgan.py", ('''
        self.linear = nn.Linear(zdim, 32 * 7 * 7)
        self.convs = nn.ModuleList([nn.Conv2d(32, 16, 3, padding=1), nn.Conv2d(16, 8, 3, padding=1),
                                    nn.Conv2d(8, 1, 3, padding=1)])
    ''', '''
        h = F.leaky_relu(self.linear(z), 0.2).reshape(-1, 32, 7, 7)
        h = F.interpolate(h, scale_factor=2.0)
        h = F.interpolate(F.leaky_relu(self.convs[0](h), 0.2), scale_factor=2.0)
        h = F.leaky_relu(self.convs[1](h), 0.2)
        return torch.sigmoid(self.convs[2](h))
    '''), "functional activations and upsampling, layers in a ModuleList"),
    Alternative("dcgan_weight_init", "dcgan.py", ('''
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = (6.0 / fan_in) ** 0.5
                with torch.no_grad():
                    module.weight.uniform_(-bound, bound)
                    if module.bias is not None:
                        module.bias.fill_(0.0)
    ''', '''
        for child in self.children():
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(child.weight, nonlinearity="relu")
                nn.init.constant_(child.bias, 0.0)
    '''), "the bound written out with uniform_; kaiming_uniform_ with nonlinearity='relu'"),
    Alternative("dcgan_loss_d", "dcgan.py", ('''
        fake = self.gen(z)
        logits = self.disc(torch.cat([batch_data, fake]))
        targets = torch.cat([torch.ones(batch_size, 1), torch.zeros(batch_size, 1)])
        return 2 * F.binary_cross_entropy_with_logits(logits, targets)
    ''',), "one BCE over the 2B concatenated logits, times 2 (generated images not detached)"),
    Alternative("dcgan_loss_g", "dcgan.py", ('''
        return F.softplus(-self.disc(self.gen(z))).mean()
    ''',), "softplus(-h), the same quantity written directly"),
    Alternative("loss_nonsaturating_d", "gan.py", ('''
        logits = d(torch.cat([x_real, g(z)]))  # (2B,)
        targets = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)])
        return 2 * F.binary_cross_entropy_with_logits(logits, targets)
    ''',), "one BCE over the 2B logits, times 2, the generated images not detached"),
    Alternative("loss_nonsaturating_g", "gan.py", ('''
        logits = d(g(z))
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    ''',), "BCE with target 1"),
    Alternative("conditional_loss_nonsaturating_d", "gan.py", ('''
        with torch.no_grad():
            fake = g(z, y_fake)
        real_part = F.softplus(-d(x_real, y_real)).mean()
        fake_part = F.softplus(d(fake, y_fake)).mean()
        return real_part + fake_part
    ''',), "softplus written directly, the fakes made under no_grad"),
    Alternative("conditional_loss_nonsaturating_g", "gan.py", ('''
        logits = d(g(z, y_real), y_real)
        return F.binary_cross_entropy_with_logits(logits, torch.ones(batch_size))
    ''',), "y_real used directly, BCE with target 1"),
    Alternative("loss_wasserstein_gp_d", "gan.py", ('''
        eps = torch.rand(batch_size, device=device)  # drawn as (B,), broadcast by hand
        fake = g(z)
        mixed = eps.view(-1, 1, 1, 1) * fake.detach() + (1 - eps.view(-1, 1, 1, 1)) * x_real
        mixed.requires_grad_()
        scores = d(mixed)
        grad = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(scores), create_graph=True)[0]
        gp = torch.mean((torch.sqrt((grad ** 2).sum(dim=(1, 2, 3))) - 1) ** 2)
        return torch.mean(d(fake)) - torch.mean(d(x_real)) + 10 * gp
    ''',), "alpha drawn as (B,), grad_outputs, explicit square root, fakes not detached in the score"),
    Alternative("loss_wasserstein_gp_g", "gan.py", ('''
        scores = d(g(z))
        return -scores.sum() / batch_size
    ''',), "a sum divided by B"),
    Alternative("jsd", "gan.py", ('''
        real = -F.softplus(-cp)  # log sigmoid(C(p))
        fake = -F.softplus(cq)  # log sigmoid(-C(q))
        return (real.mean() + fake.mean()) / 2 + torch.log(torch.tensor(2.0))
    ''',), "softplus, log 2 as a tensor"),
    Alternative("w1", "gan.py", ("return torch.mean(cp) - torch.mean(cq)",), "torch.mean"),
    Alternative("ogp", "gan.py", ('''
        n = p.shape[0]
        e = torch.rand(n)
        e = e.view(n, *[1] * (p.dim() - 1))
        x = e * p + (1 - e) * q
        x = x.detach()
        x.requires_grad = True
        out = critic(x)
        g = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True)[0]
        return torch.mean((g.flatten(1).pow(2).sum(1).sqrt() - 1) ** 2) if p.dim() > 1 else torch.mean((g.abs() - 1) ** 2)
    ''',), "eps drawn as (N,) then viewed, grad_outputs, a separate branch for scalar samples"),
    Alternative("r1gp", "gan.py", ('''
        total = 0.0
        for i in range(len(p)):  # one sample at a time
            xi = p[i:i + 1].clone().detach().requires_grad_(True)
            gi = torch.autograd.grad(critic(xi).sum(), xi, create_graph=True)[0]
            total = total + (gi ** 2).sum()
        return total / len(p)
    ''',), "a loop over samples"),
    Alternative("make_losses", "gan.py", ('''
        def metric(p, q, critic):
            if loss_type == "JSD":
                return jsd(critic(p), critic(q))
            return w1(critic(p), critic(q))

        def critic_loss(p, q, critic):
            cp = critic(p)
            cq = critic(q)
            value = -(jsd(cp, cq) if loss_type == "JSD" else w1(cp, cq))
            if reg_type == "GP":
                value = value + reg_cf * ogp(p, cp, q, cq, critic)
            elif reg_type == "R1":
                value = value + reg_cf * r1gp(p, cp, q, cq, critic)
            return value

        return metric, critic_loss
    ''',), "if/elif instead of tables"),
    Alternative("apply_exponential_moving_average", "gan.py", ('''
        source_params = dict(source.named_parameters())
        for name, param in target.named_parameters():
            param.data.copy_(alpha * param.data + (1 - alpha) * source_params[name].data)
    ''',), "by name, through .data"),
    Alternative("make_train_step", "gan.py", ('''
        losses = make_losses(loss_type, reg_type=reg_type, reg_cf=reg_cf)

        def train_step(train_data_iter, critic, critic_optim, generator, test_generator, generator_optim):
            real = None
            for _ in range(critic_inner_iters):
                real = next(train_data_iter)
                fake = generator().detach()
                loss = losses[1](real, fake, critic)
                critic_optim.zero_grad()
                loss.backward()
                critic_optim.step()
            generator_optim.zero_grad()
            gen_metric = losses[0](real, generator(), critic)
            gen_metric.backward()
            generator_optim.step()
            if alpha_ema:
                apply_exponential_moving_average(generator, test_generator, alpha=alpha_ema)
            return float(gen_metric)

        return train_step
    ''',), "detach instead of no_grad, keyword arguments, float()"),
    Alternative("score_net", "diffusion.py", ('''
        layers = [nn.Linear(3, latent_dim)]
        for _ in range(n_layers - 2):
            layers += [nn.Softplus(), nn.Linear(latent_dim, latent_dim)]
        layers += [nn.Softplus(), nn.Linear(latent_dim, 2)]
        self.net = nn.Sequential(*layers)
    ''',), "the layer list spelled out, first, middle and last"),
    Alternative("compute_denoising_loss", "diffusion.py", ('''
        n = training_data.shape[0]
        idx = torch.randint(0, sigmas.shape[0], (n,)) if sigma_index is None else sigma_index
        z = torch.randn(training_data.shape) if noise is None else noise
        sig = sigmas[idx][:, None]
        # sigma^2 / 2 * ||s + z / sigma||^2 = ||sigma s + z||^2 / 2
        return torch.mean(torch.sum((sig * scorenet(training_data + sig * z, sig) + z) ** 2, dim=1)) / 2
    ''',), "the loss rewritten as ||sigma s + z||^2 / 2"),
    Alternative("langevin_dynamics_sample", "diffusion.py", ('''
        x = init.clone() if init is not None else torch.randn(n_samples, 2)
        levels, states, k = sigmas.shape[0], [], 0
        for i in range(levels):
            step_size = eps * (sigmas[i] / sigmas[levels - 1]) ** 2
            for t in range(iterations):
                z = noise[k] if noise is not None else torch.randn(x.shape)
                k += 1
                x = x + step_size * scorenet(x, float(sigmas[i])) + (2 * step_size) ** 0.5 * z
                states.append(x.clone())
        if return_traj:
            return torch.stack(states).permute(1, 0, 2)
        return x
    ''',), "index loops, sigma passed as a float, the trajectory stacked step-first"),
    Alternative("conditional_score", "diffusion.py", ('''
        s = scorenet(x, sigma)
        return torch.where(mask.bool(), s - weight * (x - x_known), s)
    ''',), "torch.where on the mask"),
    Alternative("multi_head_attention", "np_attention.py", ('''
        width = self.head_dim
        outputs, per_head = [], []
        for h in range(self.num_heads):  # one head at a time, with einsum
            cols = slice(h * width, (h + 1) * width)
            qh = np.einsum("btd,dk->btk", q, self.params_q[:, cols])
            kh = np.einsum("bsd,dk->bsk", k, self.params_k[:, cols])
            vh = np.einsum("bsd,dk->bsk", v, self.params_v[:, cols])
            logits = np.einsum("btk,bsk->bts", qh, kh) / width ** 0.5  # a Python float keeps float32
            logits = logits - logits.max(axis=2, keepdims=True)
            w = np.exp(logits)
            w = w / w.sum(axis=2, keepdims=True)
            per_head.append(w)
            outputs.append(np.einsum("bts,bsk->btk", w, vh))
        weights = np.stack(per_head, axis=1)
        out = np.concatenate(outputs, axis=-1) @ self.param_out
    ''',), "a loop over heads with einsum"),
    Alternative("transformer_encoder", "vit.py", ('''
        normed = self.ln_1(x)
        out, _ = self.attention(query=normed, key=normed, value=normed)  # default need_weights
        y = out + x
        hidden = torch.nn.functional.gelu(self.mlp_1(self.ln_2(y)))
        return y + self.mlp_2(hidden)
    ''',), "keyword arguments, default attention path"),
    Alternative("vision_transformer", "vit.py", ('''
        if cls_token is None:
            size = x.shape[0]
            patches = x.unfold(2, 7, 7).unfold(3, 7, 7)  # (B, 1, 4, 4, 7, 7)
            x = self.linear_proj(patches.reshape(size, 16, 49))
            cls_token = self.cls_token.repeat(size, 1, 1)
        z = torch.cat((cls_token, x), 1) + self.pos_encoding
        for block in self.transformer_blocks:
            z = block(z)
        return z
    ''',), "unfold instead of patchify, an explicit loop over blocks"),
    Alternative("made_forward", "flow_network.py", ('''
        columns, alphas = [], []
        for i in range(z.shape[1]):  # coordinates found so far, zeros for the rest
            known = torch.stack(columns + [torch.zeros_like(z[:, 0])] * (z.shape[1] - i), dim=1)
            out = self.net(known)
            mean, log_std = out[:, i], out[:, z.shape[1] + i]
            columns.append(mean + torch.exp(log_std) * z[:, i])
            alphas.append(log_std)
        return torch.stack(columns, dim=1), torch.stack(alphas, dim=1).sum(-1)
    ''',), "a list of columns, alpha kept per step"),
    Alternative("made_inverse", "flow_network.py", ('''
        out = self.net(x)
        D = x.shape[1]
        mu, alpha = out[:, :D], out[:, D:]
        return (x - mu) / torch.exp(alpha), -torch.sum(alpha, dim=-1)
    ''',), "slices and a division"),
    Alternative("maf_log_probs", "flow_network.py", ('''
        total = 0.0
        for index in range(len(self.nf)):
            x, ld = self.nf[index].inverse(x)
            total = total + ld
        D = x.shape[1]
        base = torch.distributions.MultivariateNormal(torch.zeros(D), torch.eye(D)).log_prob(x)
        return torch.mean(base + total)
    ''',), "a multivariate normal base, an index loop"),
    Alternative("planar_transformation", "flow_network.py", ('''
        u_hat = self.constrained_u()
        pre = torch.sum(z * self.w, dim=1, keepdim=True) + self.b  # w^T z + b per row
        return z + torch.tanh(pre) @ u_hat
    ''',), "a row-wise inner product and an outer product"),
    Alternative("get_logdet", "flow_network.py", ('''
        u_hat = self.constrained_u()
        a = torch.mm(z, self.w.t()) + self.b
        wu = torch.sum(self.w * u_hat)
        return torch.log1p((1 - torch.tanh(a).pow(2)) * wu)
    ''',), "w^T u once, log1p, no eps"),
    Alternative("loss1", "flow_network.py", ('''
        d = z0.size(1)
        base = torch.distributions.MultivariateNormal(torch.zeros(d), torch.eye(d))
        return -(base.log_prob(z0) + logdet.squeeze(1)).unsqueeze(1)
    ''',), "torch.distributions, squeeze then unsqueeze"),
    Alternative("loss2", "flow_network.py", ('''
        normal = torch.distributions.Normal(0.0, 1.0)
        log_q = normal.log_prob(z0).sum(dim=-1, keepdim=True) - logdet
        return log_q + target_density.view(-1, 1)
    ''',), "a per-coordinate normal, view"),
    # vae.py: the IFT6135 likelihood toolkit
    Alternative("log_likelihood_bernoulli", "vae.py", ('''
        flat_mu = mu.flatten(start_dim=1).clamp(1e-7, 1 - 1e-7)  # clipped away from 0 and 1
        flat_target = target.flatten(start_dim=1)
        return torch.sum(flat_target * torch.log(flat_mu) + (1 - flat_target) * torch.log1p(-flat_mu), dim=1)
    ''',), "means clipped to [1e-7, 1 - 1e-7], log1p"),
    Alternative("log_likelihood_normal", "vae.py", ('''
        from torch.distributions import Normal

        return Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).flatten(start_dim=1).sum(dim=1)
    ''',), "torch.distributions.Normal"),
    Alternative("log_mean_exp", "vae.py", ('''
        flat = y.flatten(start_dim=1)
        return torch.logsumexp(flat, dim=1) - math.log(flat.shape[1])
    ''',), "torch.logsumexp minus log K"),
    Alternative("kl_gaussian_gaussian_analytic", "vae.py", ('''
        from torch.distributions import Normal, kl_divergence

        q = Normal(mu_q, torch.exp(0.5 * logvar_q))
        p = Normal(mu_p, torch.exp(0.5 * logvar_p))
        return kl_divergence(q, p).flatten(start_dim=1).sum(dim=1)
    ''',), "torch.distributions.kl_divergence"),
    Alternative("kl_gaussian_gaussian_mc", "vae.py", ('''
        from torch.distributions import Normal

        size = mu_q.shape[0]
        m_q, l_q, m_p, l_p = (t.flatten(start_dim=1) for t in (mu_q, logvar_q, mu_p, logvar_p))
        if noise is None:
            noise = torch.randn(size, num_samples, m_q.shape[1])
        q, p = Normal(m_q, torch.exp(l_q / 2)), Normal(m_p, torch.exp(l_p / 2))
        total = torch.zeros(size)
        for k in range(noise.shape[1]):  # one sample at a time
            z = m_q + torch.exp(l_q / 2) * noise[:, k]
            total = total + (q.log_prob(z) - p.log_prob(z)).sum(dim=1)
        return total / noise.shape[1]
    ''',), "a loop over samples with torch.distributions"),
    # vae.py: the CS446 Bernoulli VAE
    Alternative("decoder", "vae.py", (
        "self.net = nn.Sequential(nn.Linear(latent_dimension, hidden_units), nn.Tanh(),\n"
        "                         nn.Linear(hidden_units, data_dimension), nn.Sigmoid())",
        "return self.net(z)",
    ), "one nn.Sequential"),
    Alternative("logpdf_diagonal_gaussian", "vae.py", ('''
        dims = z.shape[1]
        return (-0.5 * dims * math.log(2 * math.pi) - 0.5 * torch.log(sigma_square).sum(dim=1)
                - ((z - mu) ** 2 / (2 * sigma_square)).sum(dim=1))
    ''',), "the constant taken out of the sum"),
    Alternative("logpdf_bernoulli", "vae.py", ('''
        return torch.log(torch.where(x == 1, p, 1 - p)).sum(dim=1)
    ''',), "the probability of the observed value, then its log"),
    Alternative("sample_diagonal_gaussian", "vae.py", ('''
        eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device)
        return mu + eps * sigma_square ** 0.5
    ''',), "torch.randn and a power"),
    Alternative("sample_Bernoulli", "vae.py", ('''
        return (torch.rand_like(p) < p).to(p.dtype)
    ''',), "uniform noise below p"),
    Alternative("elbo_loss", "vae.py", ('''
        prior = self.logpdf_diagonal_gaussian(sampled_z, 0 * mu, 0 * sigma_square + 1)
        posterior = self.logpdf_diagonal_gaussian(sampled_z, mu, sigma_square)
        total = self.logpdf_bernoulli(x, p) + prior - posterior
        return total.sum() / x.shape[0]
    ''',), "a sum divided by the batch size"),
]

BLOCK = r"(?P<head>^(?P<indent>[ \t]*)# BEGIN SOLUTION {task}\n)(?P<body>.*?)(?P<tail>^[ \t]*# END SOLUTION\n)"


def replace_blocks(text: str, alternative: Alternative) -> str:
    pattern = re.compile(BLOCK.format(task=re.escape(alternative.task)), re.M | re.S)
    bodies = iter(alternative.bodies)

    def swap(match: re.Match) -> str:
        body = textwrap.indent(textwrap.dedent(next(bodies)).strip("\n") + "\n", match["indent"])
        return match["head"] + body + match["tail"]

    new, count = pattern.subn(swap, text)
    assert count == len(alternative.bodies), f"{alternative.task}: {count} blocks, {len(alternative.bodies)} bodies"
    return new


@pytest.mark.slow
@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[f"{a.task}:{a.how}" for a in ALTERNATIVES])
def test_correct_alternative_passes(alternative, pristine, tmp_path):
    result = run_edited_copy(pristine, tmp_path, alternative.file, alternative.task,
                             lambda text: replace_blocks(text, alternative))
    assert result.returncode == 0, f"a correct {alternative.task} ({alternative.how}) fails:\n{result.stdout[-4000:]}"


def test_every_task_has_an_alternative():
    from instructor.manifest import available, load

    for assignment in available():
        for task in load(assignment).tasks:
            assert any(a.task == task.id for a in ALTERNATIVES), f"{task.id}: no alternative solution checked"
