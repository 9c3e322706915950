"""The published figures the *Why residual* page sets our measurements against, in one place.

A translation never types a number: where a sentence quotes the paper ("the paper trains for 64k iterations",
"ResNet-1202: 7.93%"), the number comes from here and is formatted at render time. Each constant names the
table, figure or section it is copied from, so a reader can check it against the paper.
"""

from __future__ import annotations

#: He et al. 2015 §4.2: the CIFAR-10 networks' first stage has 16 filters (then 32 and 64).
HE2015_CIFAR_WIDTH = 16

#: He et al. 2015 §4.2: training "terminate[s] at 64k iterations" (batch 128, learning rate divided by 10 at
#: 32k and 48k).
HE2015_CIFAR_ITERATIONS = 64_000

#: He et al. 2015 Table 6: CIFAR-10 test error (%) of the residual networks by depth (best of 5 runs for 110;
#: the table gives its mean ± std beside it).
HE2015_TABLE6_ERROR_PCT: dict[int, float] = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}

#: He et al. 2015 Table 6 / §4.2 "Exploring over 1000 layers": ResNet-1202's parameters, in millions.
HE2015_RESNET1202_PARAMS_M = 19.4

#: Veit et al. 2016 §4.1: the residual network of their lesion study on CIFAR-10 has 110 layers.
VEIT2016_CIFAR_DEPTH = 110
