"""Plausible mistakes in dcgan.py's graded code; each must fail its task's public tests."""

from tests.instructor.mutation import Mutation

FAILURES_NAME_THE_MISTAKE = True  # test_mutations checks that each failure names its mistake

FILE = "dcgan.py"
DNET, GNET, INIT = "dcgan_dnet", "dcgan_gnet", "dcgan_weight_init"
LOSS_D, LOSS_G = "dcgan_loss_d", "dcgan_loss_g"

MUTATIONS = [
    # DNet
    Mutation(DNET, FILE, "D_CHANNELS[2], kernel_size=3, stride=1, padding=0)",
             "D_CHANNELS[2], kernel_size=3, stride=1, padding=1)\n        self.fc = nn.Linear(D_CHANNELS[2] * 7 * 7, 1)",
             "padding 1 on the third convolution (and a linear layer sized to match)"),
    Mutation(DNET, FILE, "self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)",
             "self.pool1 = nn.AvgPool2d(kernel_size=2, stride=2)", "average pooling instead of max pooling"),
    Mutation(DNET, FILE, "x = self.relu3(self.conv3(x))  # (B, 8, 5, 5)", "x = self.conv3(x)",
             "the last ReLU forgotten"),
    Mutation(DNET, FILE, "        self.conv1 = nn.Conv2d(IMG_SHAPE[0], D_CHANNELS[0], kernel_size=3, stride=1, padding=1)\n",
             "        self.fc0 = nn.Linear(D_FLAT, 1)\n"
             "        self.conv1 = nn.Conv2d(IMG_SHAPE[0], D_CHANNELS[0], kernel_size=3, stride=1, padding=1)\n",
             "layers defined in another order than the table (the linear layer first)"),
    Mutation(DNET, FILE, "return self.fc(x.flatten(start_dim=1))  # (B, 200) -> (B, 1)",
             "return torch.sigmoid(self.fc(x.flatten(start_dim=1)))", "a sigmoid at the end: probabilities, not logits"),
    # GNet
    Mutation(GNET, FILE, "self.up1 = nn.Upsample(scale_factor=2)", "self.up1 = nn.Upsample(scale_factor=2, mode='bilinear')",
             "bilinear instead of nearest-neighbour upsampling"),
    Mutation(GNET, FILE, "self.lrelu1 = nn.LeakyReLU(LEAKY_SLOPE)", "self.lrelu1 = nn.LeakyReLU()",
             "LeakyReLU with torch's default slope 0.01"),
    Mutation(GNET, FILE, "x = self.up1(x.view(len(z), *G_START))  # (B, 32, 14, 14)",
             "x = self.up1(x.view(len(z), 7, 7, 32).permute(0, 3, 1, 2))", "reshaped channels-last (H, W, C)"),
    Mutation(GNET, FILE, "return self.sigmoid(self.conv3(x))  # (B, 1, 28, 28)", "return torch.tanh(self.conv3(x))",
             "tanh at the end (the CSCD84 generator) instead of sigmoid"),
    # _weight_init
    Mutation(INIT, FILE, "nn.init.kaiming_uniform_(layer.weight)", "nn.init.kaiming_normal_(layer.weight)",
             "Kaiming normal instead of uniform"),
    Mutation(INIT, FILE, "nn.init.kaiming_uniform_(layer.weight)", "nn.init.kaiming_uniform_(layer.weight, mode='fan_out')",
             "fan-out instead of fan-in"),
    Mutation(INIT, FILE, "                nn.init.zeros_(layer.bias)\n", "                pass\n", "biases left as they were"),
    Mutation(INIT, FILE, "nn.init.kaiming_uniform_(layer.weight)", "nn.init.kaiming_uniform_(layer.weight, a=5 ** 0.5)",
             "torch's default layer initialisation (a = sqrt(5)) instead of Kaiming's gain sqrt(2)"),
    Mutation(INIT, FILE, "if getattr(layer, \"weight\", None) is not None:", "if isinstance(layer, nn.Conv2d):",
             "only the convolutions initialised, not the linear layers"),
    # _get_loss_d
    Mutation(LOSS_D, FILE, "return bce(real_logits, ones) + bce(fake_logits, zeros)",
             "return (bce(real_logits, ones) + bce(fake_logits, zeros)) / 2", "the two means averaged instead of added"),
    Mutation(LOSS_D, FILE, "return bce(real_logits, ones) + bce(fake_logits, zeros)",
             "return bce(real_logits, zeros) + bce(fake_logits, ones)", "targets swapped"),
    Mutation(LOSS_D, FILE, "return bce(real_logits, ones) + bce(fake_logits, zeros)",
             "return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())",
             "log(sigmoid(.)) written out: inf at large logits"),
    Mutation(LOSS_D, FILE, "return bce(real_logits, ones) + bce(fake_logits, zeros)",
             "return nn.BCELoss()(torch.sigmoid(real_logits), ones) + nn.BCELoss()(torch.sigmoid(fake_logits), zeros)",
             "BCELoss on probabilities (clamped at log 1e-44): wrong at large logits"),
    # _get_loss_g
    Mutation(LOSS_G, FILE, "return F.binary_cross_entropy_with_logits(logits, ones)",
             "return -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(ones))",
             "the saturating minimax loss log(1 - D(G(z)))"),
    Mutation(LOSS_G, FILE, "return F.binary_cross_entropy_with_logits(logits, ones)",
             "return F.binary_cross_entropy_with_logits(logits, ones, reduction='sum')", "a sum over the batch, not a mean"),
    Mutation(LOSS_G, FILE, "return F.binary_cross_entropy_with_logits(logits, ones)",
             "return -torch.log(torch.sigmoid(logits)).mean()", "log(sigmoid(.)) written out: inf at very negative logits"),
    Mutation(LOSS_G, FILE, "logits = self.disc(self.gen(z))  # (B, 1)", "logits = self.disc(self.gen(z).detach())  # (B, 1)",
             "generated images detached: no gradient reaches the generator"),
]
