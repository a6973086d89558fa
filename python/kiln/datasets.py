# SPDX-License-Identifier: BSD-3-Clause
"""kiln.datasets: Fashion-MNIST read by kiln's C++ IDX reader (Debian's
dataset-fashion-mnist package installs the files)."""
from . import _C
from .utils.data import TensorDataset


class FashionMNIST(TensorDataset):
    """Images float32 [N, 1, 28, 28] in [0, 1], standardised with the training set's mean
    and std when `normalize`; labels int64 [N]. A missing directory raises an error naming
    the package to install."""

    root_default = _C._FASHION_MNIST_ROOT
    mean, std = _C._FASHION_MNIST_MEAN, _C._FASHION_MNIST_STD
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]

    def __init__(self, root=None, train=True, normalize=True):
        images, labels = _C._fashion_mnist(root or self.root_default, train, normalize)
        super().__init__(images, labels)
        self.train = train
