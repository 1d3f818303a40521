"""Learning-rate factors of torch's schedulers, for Backbones' LearningRateSchedule test.

Usage: /usr/bin/python3 lr_schedules.py EPOCHS STEPS_PER_EPOCH STEP_SIZE GAMMA
Prints JSON {"cosine": [...], "step": [...], "onecycle": [...]}: the learning rate (base 1.0) each global step runs
with, under CosineAnnealingLR(T_max = all steps) and OneCycleLR(max_lr 1, total_steps = all steps, no momentum cycling)
stepped after every batch, and StepLR(step_size, gamma) stepped after every epoch.
"""
import json
import sys

import torch


def rates(make, per_batch, epochs, steps):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = make(optimizer)
    out = []
    for _ in range(epochs):
        for _ in range(steps):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
    return out


def main():
    epochs, steps, step_size, gamma = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    total = epochs * steps
    sched = torch.optim.lr_scheduler
    print(json.dumps({
        "cosine": rates(lambda o: sched.CosineAnnealingLR(o, T_max=total), True, epochs, steps),
        "step": rates(lambda o: sched.StepLR(o, step_size=step_size, gamma=gamma), False, epochs, steps),
        "onecycle": rates(lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=total, cycle_momentum=False), True, epochs, steps),
    }))


if __name__ == "__main__":
    main()
