"""Writes samples/checkpoints/tiny_cnn.pth with real PyTorch: the file the README's first command inspects.

A training checkpoint as PyTorch recipes save it: {'arch', 'epoch', 'best_acc1', 'state_dict', 'optimizer'},
for a small ResNet-style network (conv-bn-relu stem, one residual block, linear head) after one SGD step.
Run with Debian's PyTorch: /usr/bin/python3 samples/checkpoints/make_tiny_cnn.py
"""
import os
import sys

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class TinyCnn(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(Block(16))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.layer1(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def main():
    torch.manual_seed(0)
    model = TinyCnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 5, (8,))
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_cnn.pth")
    torch.save({"arch": "tiny_cnn", "epoch": 1, "best_acc1": 20.0,
                "state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, out)
    print("wrote", out, file=sys.stderr)


if __name__ == "__main__":
    main()
